-- The first attempt of one message x channel x part starts (committed before the call is made).
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
    first_attempt_at,
    last_attempt_at
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
    'sending',
    0,
    $now,
    $now
)
