-- Record one attempt and its outcome (details already masked).
insert into alerts.attempts (
    delivery_key,
    attempt_no,
    attempted_at,
    outcome,
    http_status,
    errcode,
    smtp_code,
    uncertain,
    marked,
    detail,
    elapsed_ms
)
values (
    $delivery_key,
    $attempt_no,
    $attempted_at,
    $outcome,
    $http_status,
    $errcode,
    $smtp_code,
    $uncertain,
    $marked,
    $detail,
    $elapsed_ms
)
