-- Submissions of a plan that were partly or wholly refused: each gets a receipt, once.
select
    submission_id,
    department_code,
    file_name,
    status,
    reason_zh,
    n_rows,
    n_accepted,
    n_rejected,
    receipt
from raw.submissions
where plan_code = $plan_code
  and status in ('partial', 'rejected')
order by ingested_at
