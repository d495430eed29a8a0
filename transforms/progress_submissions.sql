-- Input of kpi.progress: each department's latest submission received by the as-of date,
-- named in the text of a missing report so that the office knows whom to ask.
-- Parameters: $plan_codes (a list), $as_of.
with received as (
    select *
    from raw.submissions
    where plan_code in (select unnest($plan_codes::varchar[]))
      and department_code is not null
      and received_at < $as_of::date + interval 1 day
),

final as (
    select
        plan_code,
        department_code,
        max(received_at) as last_received_at,
        arg_max(file_name, received_at) as last_file_name,
        arg_max(status, received_at) as last_status,
        arg_max(reason_zh, received_at) as last_reason_zh
    from received
    group by plan_code, department_code
)

select * from final
