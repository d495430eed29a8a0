-- How many targets of a plan stand in each status and data status on an as-of date.
select status, data_status, count(*) as n
from mart.progress
where plan_code = $plan_code
  and as_of = $as_of
group by status, data_status
