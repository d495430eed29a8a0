-- Every submission of the plan, newest first, with its department's name (the Data Docs index).
select
    s.submission_id,
    s.department_code,
    d.short_zh as department_zh,
    s.file_name,
    s.received_at,
    s.ingested_at,
    s.run_id,
    s.status,
    s.reason_zh,
    s.n_rows,
    s.n_accepted,
    s.n_rejected,
    s.n_warnings,
    s.n_revisions
from raw.submissions as s
left join ref.departments as d
    on s.plan_code = d.plan_code and s.department_code = d.code
where s.plan_code = $plan
order by s.received_at desc, s.file_name
