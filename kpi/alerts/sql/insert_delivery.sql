-- The first attempt of one message x channel x part starts (committed before the call is made),
-- or ($state = 'failed') the channel is dead and the part is given up without a call.
insert into alerts.deliveries (
    delivery_key,
    message_id,
    channel,
    tag,
    scheme,
    host,
    part,
    parts,
    state,
    attempts,
    uncertain,
    permanent_errors,
    first_attempt_at,
    last_attempt_at,
    last_outcome,
    last_error
)
values (
    $delivery_key,
    $message_id,
    $channel,
    $tag,
    $scheme,
    $host,
    $part,
    $parts,
    $state,
    0,
    0,
    0,
    $now,
    $now,
    $last_outcome,
    $last_error
)
