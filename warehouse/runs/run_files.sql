-- The files one run saw (stored, duplicate or skipped), in the order they were received.
select
    file_name,
    status,
    status_zh,
    department_code,
    department_zh,
    rows_accepted,
    rows_rejected,
    revisions,
    reason_zh,
    received_at
from mart.run_files
where run_id = $run_id
order by position
