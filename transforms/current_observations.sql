-- View mart.current_observations: every figure that counts, traced to its file, sheet and row,
-- with the value it revised (if any).
with final as (
    select
        o.plan_code,
        o.department_code,
        coalesce(d.short_zh, o.department_code) as department_zh,
        o.target_code,
        t.name_zh,
        t.kind,
        o.period,
        o.period_start_month,
        o.period_month,
        o.value,
        o.unit,
        o.value_raw,
        o.unit_raw,
        o.growth_pct,
        o.prior_value,
        o.reference_value,
        o.milestone_status,
        o.completion_date,
        o.note,
        o.flags,
        o.revision_no,
        prev.value as revised_from_value,
        prev.file_name as revised_from_file,
        o.file_name,
        o.sheet,
        o.row_number,
        o.received_at,
        s.archive_path,
        o.submission_id,
        o.obs_id
    from staged.observations as o
    left join staged.observations as prev on o.supersedes = prev.obs_id
    left join raw.submissions as s on o.submission_id = s.submission_id
    left join ref.targets as t on o.plan_code = t.plan_code and o.target_code = t.code
    left join ref.departments as d
        on o.plan_code = d.plan_code and o.department_code = d.code
    where o.is_current
)

select * from final
