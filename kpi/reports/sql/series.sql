-- Year-to-date figures by period, chosen as kpi.progress chooses them (transforms/
-- progress_observations.sql): the current row of each (target, period) that ended by the as-of
-- date, so the last point of a chart is the mart's actual.
with current_rows as (
    select
        *,
        row_number() over (
            partition by target_code, period
            order by received_at desc, revision_no desc, obs_id desc
        ) as pick
    from staged.observations
    where plan_code = $plan
      and period_year = $year
      and period_end <= $as_of
      and is_current
),

final as (
    select
        target_code,
        period,
        period_month,
        value,
        growth_pct,
        reference_value,
        milestone_status,
        completion_date,
        note,
        revision_no,
        received_at,
        file_name
    from current_rows
    where pick = 1
)

select * from final
order by target_code, period_month
