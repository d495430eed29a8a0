-- The files of the night that judged this as-of date: every submission ingested by a run of
-- the plan for that date (a night run twice counts its files once; the second run stores no
-- duplicate). One count for the report and the run's artifact, whatever the files' arrival time.
select
    s.submission_id,
    s.department_code,
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
inner join meta.runs as r on s.run_id = r.run_id
where r.plan_code = $plan
  and r.as_of = $as_of
  and s.plan_code = $plan
order by s.received_at desc, s.file_name
