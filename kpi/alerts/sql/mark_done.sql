-- A message is done: every channel delivered every part, or gave up on it.
update alerts.outbox
set done_at = $now
where message_id = $message_id
