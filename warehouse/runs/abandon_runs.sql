-- Whoever holds the pipeline lock is the only live run: rows still 'running' were killed.
update meta.runs
set status = 'abandoned', finished_at = $now
where status = 'running'
