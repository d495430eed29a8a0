-- Which of some content hashes are stored as submissions of a plan (uploads already loaded).
select submission_id
from raw.submissions
where plan_code = $plan_code
  and submission_id in (select unnest($ids::varchar[]))
