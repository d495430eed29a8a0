-- Undelivered messages already due at $now (held as well while the clock is in quiet hours).
select count(*) as due
from alerts.outbox
where done_at is null
  and not_before <= $now
