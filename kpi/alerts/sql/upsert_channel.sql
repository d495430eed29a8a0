-- A channel's health after an attempt (its row is created on first use).
insert into alerts.channels (
    channel, kind, state, permanent_errors, dead_since, last_attempt_at, last_ok_at, last_error
)
values (
    $channel, $kind, $state, $permanent_errors, $dead_since, $now, $last_ok_at, $last_error
)
on conflict (channel) do update set
    kind = excluded.kind,
    state = excluded.state,
    permanent_errors = excluded.permanent_errors,
    dead_since = excluded.dead_since,
    last_attempt_at = excluded.last_attempt_at,
    last_ok_at = excluded.last_ok_at,
    last_error = excluded.last_error
