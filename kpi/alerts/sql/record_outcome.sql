-- A delivery after an attempt: delivered, failed (无法送达, given up) or pending (retry after a
-- backoff), with its counts of uncertain sends and permanent errors.
update alerts.deliveries
set
    state = $state,
    attempts = $attempts,
    uncertain = $uncertain,
    permanent_errors = $permanent_errors,
    next_attempt_at = $next_attempt_at,
    delivered_at = $delivered_at,
    last_outcome = $last_outcome,
    last_error = $last_error
where delivery_key = $delivery_key
