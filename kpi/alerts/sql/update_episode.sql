-- Write every mutable column of one episode: the caller reads the row, applies its changes and
-- passes all of them back, so one fixed statement serves every kind of change.
update alerts.episodes
set
    snapshot = $snapshot,
    last_as_of = $last_as_of,
    major = $major,
    status = $status,
    status_rank = $status_rank,
    worst_status = $worst_status,
    notified_rank = $notified_rank,
    last_sent_at = $last_sent_at,
    state = $state,
    closed_at = $closed_at,
    close_reason = $close_reason,
    close_note = $close_note,
    cleared_at = $cleared_at,
    reminded_at = $reminded_at,
    escalated_at = $escalated_at,
    escalated_again_at = $escalated_again_at,
    acked_at = $acked_at,
    ack_note = $ack_note,
    feedback_at = $feedback_at,
    feedback_text = $feedback_text
where episode_id = $episode_id
