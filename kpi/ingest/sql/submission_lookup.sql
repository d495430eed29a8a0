-- A submission already stored under this content hash (the same file sent again).
select status, department_code, file_name, received_at, archive_path, reason_zh
from raw.submissions
where submission_id = ?
