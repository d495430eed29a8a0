-- Every delivery of a message not yet done: what was delivered, given up, or is waiting to retry.
select d.*
from alerts.deliveries as d
inner join alerts.outbox as o using (message_id)
where o.done_at is null
