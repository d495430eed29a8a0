-- Rows refused or flagged by validation, for the submissions received by the as-of date and
-- those of the night that judged it (a file may arrive after midnight and still be that night's),
-- newest first, at most $limit of them (hostile files can hold a million bad rows), with the
-- total count.
select
    r.submission_id,
    r.file_name,
    r.sheet,
    r.row_number,
    r.column_name,
    r.value_raw,
    r.reason_zh,
    r.expectation,
    r.severity,
    r.target_code,
    r.period,
    coalesce(r.department_code, s.department_code) as department_code,
    s.received_at,
    count(*) over () as total
from staged.rejections as r
inner join raw.submissions as s on r.submission_id = s.submission_id
where r.plan_code = $plan
  and (
      s.received_at < $as_of::date + interval 1 day
      or s.run_id in (select run_id from meta.runs where plan_code = $plan and as_of = $as_of)
  )
order by s.received_at desc, r.file_name, r.sheet, r.row_number, r.column_name
limit $limit
