-- A department's files, newest first, with their receipts (what `kpi ingest --json` printed).
select
    submission_id,
    file_name,
    received_at,
    ingested_at,
    status,
    reason_zh,
    n_rows,
    n_accepted,
    n_rejected,
    n_revisions,
    receipt
from raw.submissions
where plan_code = $plan_code
  and department_code = $department_code
order by received_at desc, file_name
limit $limit
