-- The runs of the plan for this as-of date, latest first (the night's header in the report).
select run_id, flow, started_at, finished_at, status
from meta.runs
where plan_code = $plan and as_of = $as_of
order by started_at desc
