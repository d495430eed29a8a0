-- Stored values that a batch revised stop being current (the revisions name them in `supersedes`).
update staged.observations
set is_current = false
where obs_id in (select obs_id from superseded)
