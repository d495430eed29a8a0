-- The id of a new alert episode.
select nextval('alerts.episode_ids') as episode_id
