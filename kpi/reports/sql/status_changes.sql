-- Status changes in the week up to the as-of date (first judgements left out).
select target_code, as_of, status, data_status, previous_status, change
from mart.status_history
where plan_code = $plan
  and as_of > $as_of::date - interval 7 day
  and as_of <= $as_of
  and change <> 'first'
order by as_of desc, target_code
