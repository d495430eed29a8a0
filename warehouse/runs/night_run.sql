-- The run that judged a plan on an as-of date most recently (running or finished).
select run_id
from meta.runs
where plan_code = $plan_code
  and as_of = $as_of
  and flow in ('nightly', 'replay')
order by started_at desc
limit 1
