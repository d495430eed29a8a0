-- The dedupe key of every message ever queued for a plan: the same fact is never queued twice.
select dedupe_key
from alerts.outbox
where plan_code = $plan_code
