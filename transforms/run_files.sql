-- View mart.run_files: every file a pipeline run saw, by run id. Stored submissions come from
-- raw.submissions (each carries the run that stored it); duplicates and skipped files, which
-- leave no submission row, from meta.run_files.
with stored as (
    select
        s.run_id,
        s.plan_code,
        s.file_name,
        s.status,
        s.department_code,
        s.n_accepted as rows_accepted,
        s.n_rejected as rows_rejected,
        s.n_revisions as revisions,
        s.reason_zh,
        s.received_at,
        s.submission_id
    from raw.submissions as s
    where s.run_id is not null
),

unstored as (
    select
        f.run_id,
        f.plan_code,
        f.file_name,
        f.status,
        s.department_code,
        0 as rows_accepted,
        0 as rows_rejected,
        0 as revisions,
        f.reason_zh,
        f.seen_at as received_at,
        nullif(f.submission_id, '') as submission_id
    from meta.run_files as f
    left join raw.submissions as s
        on f.submission_id = s.submission_id
),

files as (
    select * from stored
    union all
    select * from unstored
),

final as (
    select
        f.run_id,
        f.plan_code,
        f.file_name,
        f.status,
        case f.status
            when 'accepted' then '全部接收'
            when 'partial' then '部分接收'
            when 'rejected' then '整体退回'
            when 'duplicate' then '重复文件'
            when 'skipped' then '已跳过'
            else f.status
        end as status_zh,
        f.department_code,
        coalesce(d.short_zh, f.department_code) as department_zh,
        f.rows_accepted,
        f.rows_rejected,
        f.revisions,
        f.reason_zh,
        f.received_at,
        f.submission_id,
        row_number() over (
            partition by f.run_id
            order by f.status = 'skipped', f.received_at, f.file_name
        ) as position
    from files as f
    left join ref.departments as d
        on f.plan_code = d.plan_code and f.department_code = d.code
)

select * from final
