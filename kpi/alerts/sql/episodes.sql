-- Every alert episode of a plan, oldest first (the last one of a target is its latest).
select *
from alerts.episodes
where plan_code = $plan_code
order by episode_id
