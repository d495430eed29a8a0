-- Input of kpi.progress: per target, the last recorded status before the as-of date and
-- whether it has ever been behind (a new fall after a recovery is a relapse).
-- Parameters: $plan_codes (a list), $as_of.
with earlier as (
    select *
    from mart.status_history
    where plan_code in (select unnest($plan_codes::varchar[]))
      and as_of < $as_of
),

latest as (
    select
        plan_code,
        target_code,
        arg_max(status, as_of) as status,
        arg_max(data_status, as_of) as data_status
    from earlier
    group by plan_code, target_code
),

behind as (
    select
        plan_code,
        target_code,
        bool_or(status in ('预警', '滞后', '严重滞后')) as ever_behind
    from earlier
    group by plan_code, target_code
),

final as (
    select
        latest.plan_code,
        latest.target_code,
        latest.status,
        latest.data_status,
        behind.ever_behind
    from latest
    inner join behind
        on latest.plan_code = behind.plan_code and latest.target_code = behind.target_code
)

select * from final
