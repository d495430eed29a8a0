-- View mart.status_changes: when each target fell behind, worsened, recovered or relapsed.
with final as (
    select
        h.plan_code,
        h.as_of,
        t.department as department_code,
        coalesce(d.short_zh, t.department) as department_zh,
        h.target_code,
        t.name_zh,
        h.previous_status,
        h.status,
        h.data_status,
        h.change,
        case h.change
            when 'first' then '首次判定'
            when 'fell_behind' then '转为滞后'
            when 'worsened' then '恶化'
            when 'improved' then '好转'
            when 'recovered' then '恢复正常'
            when 'relapsed' then '再次滞后'
            when 'completed' then '完成'
        end as change_zh
    from mart.status_history as h
    left join ref.targets as t on h.plan_code = t.plan_code and h.target_code = t.code
    left join ref.departments as d on t.plan_code = d.plan_code and t.department = d.code
)

select * from final
order by plan_code, as_of, target_code
