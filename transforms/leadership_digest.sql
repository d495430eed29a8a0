-- The leadership digest: every target of a plan at the latest as-of date on or before $as_of,
-- worst status first. Read from the analysts' snapshot; select-only.
with latest as (
    select max(as_of) as as_of
    from mart.progress
    where plan_code = $plan_code and as_of <= $as_of
),

final as (
    select
        p.as_of,
        p.target_code,
        p.name_zh,
        coalesce(d.short_zh, p.department_code) as department_zh,
        p.status,
        p.data_status,
        p.completion_rate,
        p.time_progress,
        p.gap_pp,
        p.outlook
    from mart.progress as p
    inner join latest on p.as_of = latest.as_of
    left join ref.departments as d
        on d.plan_code = p.plan_code and d.code = p.department_code
    where p.plan_code = $plan_code
)

select * from final
order by
    case status
        when '严重滞后' then 1 when '滞后' then 2 when '预警' then 3
        when '无数据' then 4 when '正常' then 5 else 6
    end,
    gap_pp nulls last,
    target_code
