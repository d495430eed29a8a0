-- The rows refused or flagged in the plan's submissions, for the validation pages: the first
-- $sample of each file × rule × column (a hostile file can hold a million bad rows) with the
-- group's full count.
with numbered as (
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
        row_number() over (
            partition by r.submission_id, r.severity, r.column_name, r.expectation
            order by r.sheet, r.row_number
        ) as pick,
        count(*) over (
            partition by r.submission_id, r.severity, r.column_name, r.expectation
        ) as group_count
    from staged.rejections as r
    where r.plan_code = $plan
)

select * exclude (pick)
from numbered
where pick <= $sample
order by submission_id, sheet, row_number, column_name
