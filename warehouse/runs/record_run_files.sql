-- Files of a run that left no submission row (duplicates, skipped), from a frame of receipts.
-- A retried ingest meets the run's own stored files again: same run, same name, same bytes is
-- not a duplicate, so it is not recorded. Recording the same file twice changes nothing.
insert into meta.run_files (run_id, plan_code, file_name, status, submission_id, reason_zh, seen_at)
select
    f.run_id,
    f.plan_code,
    f.file_name,
    f.status,
    f.submission_id,
    f.reason_zh,
    f.seen_at
from run_files_frame as f
where not exists (
    select 1
    from raw.submissions as s
    where s.submission_id = f.submission_id
      and s.run_id = f.run_id
      and s.file_name = f.file_name
)
on conflict do nothing
