-- Year-to-date figures by period for the charts, as kpi.progress chose them for the as-of date:
-- the rows of transforms/progress_observations.sql (included below, the one definition of
-- "what was held that day": received by the end of the as-of day, and of those the revision
-- current then), so a report for a past date shows no later revision and no later file, and
-- the last point of a chart is the mart's actual.
-- Parameters: $plan_codes, $years (the plan and its year, as one-element lists), $as_of.
with held as (
-- include: progress_observations.sql
),

final as (
    select
        o.target_code,
        o.period,
        o.period_month,
        o.value,
        o.growth_pct,
        o.reference_value,
        o.milestone_status,
        o.completion_date,
        o.note,
        o.revision_no,
        o.received_at,
        o.file_name
    from held as h
    inner join staged.observations as o on h.obs_id = o.obs_id
)

select * from final
order by target_code, period_month
