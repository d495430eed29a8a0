-- A pipeline run ends (completed or failed) with what the warehouse says it did.
update meta.runs
set finished_at = $finished_at,
    status = $status,
    files_seen = $files_seen,
    files_accepted = $files_accepted,
    files_partial = $files_partial,
    files_rejected = $files_rejected,
    files_duplicate = $files_duplicate,
    files_skipped = $files_skipped,
    rows_accepted = $rows_accepted,
    rows_rejected = $rows_rejected,
    alerts_raised = $alerts_raised
where run_id = $run_id
