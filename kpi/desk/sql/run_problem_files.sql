-- The files of one run that were refused whole or had rows refused.
select
    s.submission_id,
    s.file_name,
    coalesce(d.short_zh, s.department_code) as department_zh,
    s.status,
    s.reason_zh,
    s.n_rows,
    s.n_accepted,
    s.n_rejected
from raw.submissions as s
left join ref.departments as d
    on d.plan_code = s.plan_code and d.code = s.department_code
where s.plan_code = $plan_code
  and s.run_id = $run_id
  and s.status in ('rejected', 'partial')
order by s.status desc, s.file_name
