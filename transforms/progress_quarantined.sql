-- Input of kpi.progress: the (target, period) pairs of which rows were quarantined.
-- A period that has only these rows is 数据异常 rather than 缺报.
-- Parameters: $plan_code, $year, $as_of.
with quarantined as (
    select distinct
        r.target_code,
        r.period,
        try_cast(substr(r.period, 6, 2) as integer) as period_month
    from staged.rejections as r
    where r.plan_code = $plan_code
      and r.severity = 'critical'
      and r.target_code is not null
      and r.period is not null
      and try_cast(substr(r.period, 1, 4) as integer) = $year
),

final as (
    select *
    from quarantined
    where period_month between 1 and 12
      and period <= strftime($as_of::date, '%Y-%m')
)

select * from final
order by target_code, period
