-- Record one step of an episode's workflow: a system change or what a person recorded.
insert into alerts.events (event_id, episode_id, event_at, kind, status, actor, note)
values (nextval('alerts.event_ids'), $episode_id, $event_at, $kind, $status, $actor, $note)
