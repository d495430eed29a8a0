-- Every submission of the plan received by the end of the as-of date, newest first.
select
    submission_id,
    department_code,
    file_name,
    received_at,
    ingested_at,
    run_id,
    status,
    reason_zh,
    n_rows,
    n_accepted,
    n_rejected,
    n_warnings,
    n_revisions
from raw.submissions
where plan_code = $plan
  and received_at < $as_of::date + interval 1 day
order by received_at desc, file_name
