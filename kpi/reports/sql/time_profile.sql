-- The expected share of the annual task by month end, as kpi.progress judged it.
select target_code, month, share
from mart.time_profile
where plan_code = $plan
order by target_code, month
