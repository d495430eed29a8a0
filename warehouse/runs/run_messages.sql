-- Messages one run queued in the outbox (stamped with the run's moment).
select count(*) as n
from alerts.outbox
where plan_code = $plan_code
  and created_at = $run_at
