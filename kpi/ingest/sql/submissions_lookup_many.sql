-- The stored submissions among the content hashes of a batch (files sent again).
-- Parameter: $ids, the batch's content hashes.
with batch_ids as (
    select unnest($ids::varchar[]) as submission_id
)

select
    s.submission_id,
    s.plan_code,
    s.status,
    s.department_code,
    s.file_name,
    s.received_at,
    s.archive_path,
    s.reason_zh
from raw.submissions as s
inner join batch_ids as b on s.submission_id = b.submission_id
