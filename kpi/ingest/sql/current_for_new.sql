-- The current observation of each (plan, target, period) that the new rows report again.
select
    o.obs_id,
    o.target_code,
    o.period,
    o.revision_no,
    o.value,
    o.growth_pct,
    o.prior_value,
    o.reference_value,
    o.milestone_status,
    o.completion_date
from staged.observations as o
inner join new_obs as n
    on o.plan_code = n.plan_code and o.target_code = n.target_code and o.period = n.period
where o.is_current
