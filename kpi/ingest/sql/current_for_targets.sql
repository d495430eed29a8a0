-- The current observations of the (plan, target) pairs a batch reports: the year-to-date values
-- that later periods are checked against, and the figures a new row would revise.
-- Parameters: $plans, $targets: the pairs, as two lists of the same length.
with batch_targets as (
    select
        unnest($plans::varchar[]) as plan_code,
        unnest($targets::varchar[]) as target_code
)

select
    o.plan_code,
    o.target_code,
    o.period,
    o.period_year,
    o.period_month,
    o.obs_id,
    o.revision_no,
    o.value,
    o.growth_pct,
    o.prior_value,
    o.reference_value,
    o.milestone_status,
    o.completion_date
from staged.observations as o
inner join batch_targets as b
    on o.plan_code = b.plan_code and o.target_code = b.target_code
where o.is_current
