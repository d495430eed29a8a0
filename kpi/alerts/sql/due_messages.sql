-- Undelivered messages due at $now, in the order they were queued.
select *
from alerts.outbox
where done_at is null
  and not_before <= $now
order by message_id
