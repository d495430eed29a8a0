-- One alert episode by its id (what people type: `kpi ack 12`).
select *
from alerts.episodes
where episode_id = $episode_id
