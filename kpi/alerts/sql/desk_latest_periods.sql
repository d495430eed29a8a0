-- The latest period each target of a plan has reported, as of the plan's latest progress
-- (what 催报 compares with the period it asks for).
select as_of, target_code, latest_period
from mart.progress
where plan_code = $plan_code
  and as_of = (select max(as_of) from mart.progress where plan_code = $plan_code)
