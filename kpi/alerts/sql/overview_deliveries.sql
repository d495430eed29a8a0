-- Every delivery of a plan's messages, as `kpi alerts` shows it under each message.
select
    d.message_id,
    d.channel,
    d.tag,
    d.part,
    d.parts,
    d.state,
    d.attempts,
    d.uncertain,
    d.last_outcome,
    d.last_error,
    d.next_attempt_at,
    d.delivered_at,
    d.reported_at
from alerts.deliveries as d
inner join alerts.outbox as o using (message_id)
where o.plan_code = $plan_code
order by d.message_id, d.channel, d.part
