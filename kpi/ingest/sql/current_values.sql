-- Current year-to-date values of a plan, for the "lower than the previous period" check.
select target_code, period_year, period_month, period, value
from staged.observations
where plan_code = ? and is_current and value is not null
