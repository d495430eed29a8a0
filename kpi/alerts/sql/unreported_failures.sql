-- Deliveries given up (无法送达) that 督查局 has not been told about yet, with their message.
select
    d.delivery_key,
    d.message_id,
    d.channel,
    d.attempts,
    d.last_outcome,
    d.last_error,
    o.plan_code,
    o.kind,
    o.title
from alerts.deliveries as d
inner join alerts.outbox as o using (message_id)
where d.state = 'failed'
  and d.reported_at is null
order by d.message_id, d.channel, d.part
