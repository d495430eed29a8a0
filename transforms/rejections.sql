-- View mart.rejections: every quarantined row and every warning, with where it came from.
with final as (
    select
        r.plan_code,
        coalesce(r.department_code, s.department_code) as department_code,
        coalesce(d.short_zh, r.department_code, s.department_code) as department_zh,
        r.file_name,
        s.received_at,
        r.sheet,
        r.row_number,
        r.column_name,
        r.value_raw,
        r.reason_zh,
        r.severity,
        case r.severity when 'critical' then '已隔离' else '已接收并标注' end as severity_zh,
        r.expectation,
        r.target_code,
        t.name_zh,
        r.period,
        r.submission_id
    from staged.rejections as r
    left join raw.submissions as s on r.submission_id = s.submission_id
    left join ref.targets as t on r.plan_code = t.plan_code and r.target_code = t.code
    left join ref.departments as d
        on r.plan_code = d.plan_code
        and coalesce(r.department_code, s.department_code) = d.code
)

select * from final
