-- The health of every channel used so far, dead ones first (`kpi alerts` warns about them).
select
    channel,
    kind,
    state,
    permanent_errors,
    dead_since,
    last_attempt_at,
    last_ok_at,
    last_error
from alerts.channels
order by state = 'ok', channel
