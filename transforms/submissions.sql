-- View mart.submissions: every file received, newest first, with what became of it.
with final as (
    select
        s.plan_code,
        s.department_code,
        coalesce(d.short_zh, s.department_code) as department_zh,
        s.file_name,
        s.received_at,
        s.ingested_at,
        s.status,
        case s.status
            when 'accepted' then '全部接收'
            when 'partial' then '部分接收'
            when 'rejected' then '整体退回'
            else s.status
        end as status_zh,
        s.reason_zh,
        s.n_rows,
        s.n_accepted,
        s.n_rejected,
        s.n_warnings,
        s.n_revisions,
        s.archive_path,
        s.run_id,
        s.submission_id
    from raw.submissions as s
    left join ref.departments as d
        on s.plan_code = d.plan_code and s.department_code = d.code
)

select * from final
order by received_at desc
