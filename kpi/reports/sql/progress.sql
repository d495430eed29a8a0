-- The progress table of one plan on one as-of date, exactly as kpi.progress wrote it.
select *
from mart.progress
where plan_code = $plan and as_of = $as_of
order by department_code, target_code
