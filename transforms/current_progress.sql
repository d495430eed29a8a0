-- View mart.current_progress: every target at the latest as-of date computed for its plan,
-- with its department and figures also in the unit the report writes (亿元, 万户, ...).
-- The written figures are rounded to 6 decimals: converting back from the canonical unit leaves
-- float noise (0.5999999999999996) that no one should read.
with latest as (
    select
        plan_code,
        max(as_of) as as_of
    from mart.progress
    group by plan_code
),

final as (
    select
        p.plan_code,
        p.as_of,
        p.department_code,
        coalesce(d.short_zh, p.department_code) as department_zh,
        p.target_code,
        p.name_zh,
        p.kind,
        p.headline,
        p.firmness,
        t.unit as unit_written,
        round(
            case
                when t.canonical_value is not null and t.canonical_value <> 0
                    then p.target_value * t.value / t.canonical_value
                else p.target_value
            end,
            6
        ) as target_written,
        round(
            case
                when t.canonical_value is not null and t.canonical_value <> 0
                    then p.actual * t.value / t.canonical_value
                else p.actual
            end,
            6
        ) as actual_written,
        p.completion_rate,
        p.time_progress,
        p.gap_pp,
        p.status,
        p.data_status,
        p.outlook,
        p.latest_period,
        p.days_overdue,
        p.computed,
        p.detail_zh,
        p.unit,
        p.target_value,
        p.actual,
        p.expected,
        p.projection,
        t.deadline,
        p.computed_at
    from mart.progress as p
    inner join latest
        on p.plan_code = latest.plan_code and p.as_of = latest.as_of
    left join ref.targets as t
        on p.plan_code = t.plan_code and p.target_code = t.code
    left join ref.departments as d
        on p.plan_code = d.plan_code and p.department_code = d.code
)

select * from final
