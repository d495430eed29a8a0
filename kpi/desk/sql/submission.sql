-- One stored file of a plan, with its receipt.
select
    submission_id,
    department_code,
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
  and submission_id = $submission_id
