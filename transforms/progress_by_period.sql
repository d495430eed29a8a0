-- View mart.progress_by_period: the trajectory of every numeric target, one row per period
-- reported (current figures only), against the share of the year expected by then
-- (mart.time_profile: seasonal profile or monthly plan, else months / 12).
with figures as (
    select
        o.plan_code,
        o.target_code,
        o.period,
        o.period_month,
        o.value,
        o.growth_pct,
        o.prior_value,
        o.reference_value,
        o.growth_pct is null and o.prior_value is not null as computed,
        coalesce(o.growth_pct, (o.value / nullif(o.prior_value, 0) - 1) * 100) as growth
    from staged.observations as o
    where o.is_current
      and (o.value is not null or o.growth_pct is not null)
),

joined as (
    select
        f.*,
        t.name_zh,
        t.kind,
        t.department as department_code,
        coalesce(d.short_zh, t.department) as department_zh,
        t.comparator,
        t.canonical_value as target_value,
        t.canonical_unit as unit,
        coalesce(tp.share, f.period_month / 12.0) * 100 as time_progress
    from figures as f
    inner join ref.targets as t
        on f.plan_code = t.plan_code and f.target_code = t.code
    left join ref.departments as d
        on t.plan_code = d.plan_code and t.department = d.code
    left join mart.time_profile as tp
        on f.plan_code = tp.plan_code and f.target_code = tp.target_code
        and f.period_month = tp.month
),

final as (
    select
        plan_code,
        department_code,
        department_zh,
        target_code,
        name_zh,
        kind,
        period,
        period_month,
        unit,
        target_value,
        value,
        case kind
            when 'growth_rate' then growth
            when 'relative' then coalesce(growth_pct, value) - reference_value
            else value
        end as actual,
        case when kind in ('cumulative', 'count', 'level', 'ceiling')
            then value / nullif(target_value, 0) * 100
        end as completion_rate,
        case when kind in ('cumulative', 'count') then time_progress end as time_progress,
        case
            when kind in ('cumulative', 'count')
                then value / nullif(target_value, 0) * 100 - time_progress
            when kind = 'growth_rate' then growth - target_value
            when kind = 'relative'
                then coalesce(growth_pct, value) - reference_value - target_value
        end as gap_pp,
        kind = 'growth_rate' and computed as computed
    from joined
)

select * from final
order by plan_code, target_code, period_month
