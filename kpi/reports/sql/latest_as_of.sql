-- The latest as-of date for which progress was computed (the default of `kpi report`).
select max(as_of) as as_of
from mart.progress
where plan_code = $plan
