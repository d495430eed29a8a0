-- Today's progress rows of a plan, one per target: what episodes are opened, updated or closed from.
select * exclude (computed_at)
from mart.progress
where plan_code = $plan_code
  and as_of = $as_of
order by target_code
