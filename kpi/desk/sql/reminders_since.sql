-- 催报 messages the desk queued for a plan since a moment (the board shows them as done).
select department_code, created_at, done_at, dedupe_key
from alerts.outbox
where plan_code = $plan_code
  and kind = 'desk_reminder'
  and created_at >= $since
order by created_at
