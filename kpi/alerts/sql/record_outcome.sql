-- A delivery after an attempt: delivered, failed (given up) or pending (retry after a backoff).
update alerts.deliveries
set
    state = $state,
    attempts = $attempts,
    next_attempt_at = $next_attempt_at,
    delivered_at = $delivered_at,
    last_outcome = $last_outcome,
    last_error = $last_error
where delivery_key = $delivery_key
