-- The latest pipeline run of a plan (the board's "last night").
select
    run_id,
    flow,
    as_of,
    started_at,
    finished_at,
    status,
    files_seen,
    files_accepted,
    files_partial,
    files_rejected,
    rows_accepted,
    rows_rejected,
    alerts_raised
from meta.runs
where plan_code = $plan_code
order by started_at desc
limit 1
