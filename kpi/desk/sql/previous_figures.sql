-- The latest figure that counts for each of a department's targets, reported for a period
-- before $period: what the template shows for reference.
with ranked as (
    select
        target_code,
        period,
        value,
        unit,
        growth_pct,
        milestone_status,
        completion_date,
        row_number() over (partition by target_code order by period desc) as rn
    from staged.observations
    where plan_code = $plan_code
      and department_code = $department_code
      and is_current
      and period < $period
),

final as (
    select target_code, period, value, unit, growth_pct, milestone_status, completion_date
    from ranked
    where rn = 1
)

select * from final
