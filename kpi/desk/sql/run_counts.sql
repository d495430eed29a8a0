-- What one run stored, counted from its files (meta.runs in a snapshot published mid-run
-- still shows the run as running with no counts).
select
    count(*) as files_stored,
    count(*) filter (where status = 'accepted') as files_accepted,
    count(*) filter (where status = 'partial') as files_partial,
    count(*) filter (where status = 'rejected') as files_rejected,
    coalesce(sum(n_accepted), 0) as rows_accepted,
    coalesce(sum(n_rejected), 0) as rows_rejected
from raw.submissions
where plan_code = $plan_code
  and run_id = $run_id
