-- Undelivered messages held back by quiet hours (not due before $now).
select count(*) as held
from alerts.outbox
where done_at is null
  and not_before > $now
