-- Input of kpi.progress: the (target, period) pairs of which rows were quarantined.
-- A period that has only these rows is 数据异常 rather than 缺报. Only files received by the end
-- of the as-of date count.
-- Parameters: $plan_codes and $years (the plans and their years, as two lists), $as_of.
with plans as (
    select
        unnest($plan_codes::varchar[]) as plan_code,
        unnest($years::integer[]) as plan_year
),

quarantined as (
    select distinct
        r.plan_code,
        r.target_code,
        r.period,
        try_cast(substr(r.period, 6, 2) as integer) as period_month
    from staged.rejections as r
    inner join plans as p on r.plan_code = p.plan_code
    inner join raw.submissions as s on r.submission_id = s.submission_id
    where r.severity = 'critical'
      and s.received_at < $as_of::date + interval 1 day
      and r.target_code is not null
      and r.period is not null
      and try_cast(substr(r.period, 1, 4) as integer) = p.plan_year
),

final as (
    select *
    from quarantined
    where period_month between 1 and 12
      and period <= strftime($as_of::date, '%Y-%m')
)

select * from final
order by plan_code, target_code, period
