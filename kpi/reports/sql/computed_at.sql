-- When the progress of this as-of date was computed.
select max(computed_at) as computed_at
from mart.progress
where plan_code = $plan and as_of = $as_of
