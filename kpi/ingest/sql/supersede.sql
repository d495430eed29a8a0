-- A revised value stops being current; the revision that replaces it names it in `supersedes`.
update staged.observations
set is_current = false
where obs_id in (select supersedes from new_obs where supersedes is not null)
