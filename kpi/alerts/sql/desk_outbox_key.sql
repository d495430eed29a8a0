-- Whether a message with this dedupe key was ever queued (催报 at most once a day).
select count(*) > 0 as queued
from alerts.outbox
where dedupe_key = $dedupe_key
