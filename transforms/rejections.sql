-- View mart.rejections: every rejected row (拒收) and every warning (提示), with where it came
-- from. problem_zh is the reason without its place (file, sheet, row, column), so that rows can
-- be counted by what was wrong.
with placed as (
    select
        r.*,
        '文件“' || r.file_name || '”工作表“' || coalesce(r.sheet, '') || '”第'
        || coalesce(r.row_number::varchar, '') || '行“' || coalesce(r.column_name, '')
        || '”列' as in_sheet,
        '文件“' || r.file_name || '”第' || coalesce(r.row_number::varchar, '') || '行“'
        || coalesce(r.column_name, '') || '”列' as in_csv,
        '文件“' || r.file_name || '”' as in_file
    from staged.rejections as r
),

final as (
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
        case
            when starts_with(r.reason_zh, r.in_sheet) then substr(r.reason_zh, length(r.in_sheet) + 1)
            when starts_with(r.reason_zh, r.in_csv) then substr(r.reason_zh, length(r.in_csv) + 1)
            when starts_with(r.reason_zh, r.in_file) then substr(r.reason_zh, length(r.in_file) + 1)
            else r.reason_zh
        end as problem_zh,
        r.severity,
        case r.severity when 'critical' then '拒收' else '提示' end as severity_zh,
        r.expectation,
        r.target_code,
        t.name_zh,
        r.period,
        r.submission_id
    from placed as r
    left join raw.submissions as s on r.submission_id = s.submission_id
    left join ref.targets as t on r.plan_code = t.plan_code and r.target_code = t.code
    left join ref.departments as d
        on r.plan_code = d.plan_code
        and coalesce(r.department_code, s.department_code) = d.code
)

select * from final
