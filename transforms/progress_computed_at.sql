-- When the stored progress of these plans on this as-of date was computed.
select plan_code, max(computed_at) as computed_at
from mart.progress
where plan_code in (select unnest($plan_codes::varchar[])) and as_of = $as_of
group by plan_code
