-- The analyst's question on the snapshot: every target behind (预警, 滞后, 严重滞后) at the
-- latest as-of date of its plan, by district, worst first.
with behind as (
    select
        pl.district_zh,
        p.plan_code,
        p.department_zh,
        p.target_code,
        p.name_zh,
        p.status,
        p.gap_pp,
        p.completion_rate,
        p.time_progress
    from mart.current_progress as p
    inner join ref.plans as pl on p.plan_code = pl.plan_code
    where p.status in ('预警', '滞后', '严重滞后')
),

final as (
    select
        *,
        count(*) over (partition by district_zh) as behind_in_district
    from behind
)

select * from final
order by
    behind_in_district desc,
    district_zh,
    case status when '严重滞后' then 1 when '滞后' then 2 else 3 end,
    gap_pp nulls last,
    target_code
