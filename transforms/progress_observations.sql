-- Input of kpi.progress: the figure held for each target and period on the as-of date, as it
-- stood at the end of that day: only rows received by then (received_at, district time) count,
-- and of those the latest received (a revision replaces what it revised, also when it lowers a
-- value; a revision received after the as-of date does not count yet). A period that has not
-- ended by the as-of date cannot have been reported yet.
-- Parameters: $plan_codes and $years (the plans and their years, as two lists), $as_of.
with plans as (
    select
        unnest($plan_codes::varchar[]) as plan_code,
        unnest($years::integer[]) as plan_year
),

current_rows as (
    select
        o.*,
        row_number() over (
            partition by o.plan_code, o.target_code, o.period
            order by o.received_at desc, o.revision_no desc, o.obs_id desc
        ) as pick
    from staged.observations as o
    inner join plans as p
        on o.plan_code = p.plan_code and o.period_year = p.plan_year
    where o.period_end <= $as_of
      and o.received_at < $as_of::date + interval 1 day
),

final as (
    select
        plan_code,
        target_code,
        period,
        period_month,
        period_start_month,
        value,
        growth_pct,
        prior_value,
        reference_value,
        milestone_status,
        completion_date,
        obs_id,
        received_at
    from current_rows
    where pick = 1
)

select * from final
order by plan_code, target_code, period_month
