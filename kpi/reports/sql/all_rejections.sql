-- Every row refused or flagged in the plan's submissions, in file order (the Data Docs pages).
select
    submission_id,
    file_name,
    sheet,
    row_number,
    column_name,
    value_raw,
    reason_zh,
    expectation,
    severity
from staged.rejections
where plan_code = $plan
order by submission_id, sheet, row_number, column_name
