-- A later attempt of a known delivery starts (committed before the call is made).
update alerts.deliveries
set
    state = 'sending',
    last_attempt_at = $now
where delivery_key = $delivery_key
