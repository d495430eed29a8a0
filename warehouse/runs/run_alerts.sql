-- What the alerts step of one run did: the system's episode events stamped with the run's moment.
select e.kind, count(*) as n
from alerts.events as e
inner join alerts.episodes as p
    on e.episode_id = p.episode_id
where p.plan_code = $plan_code
  and e.actor = 'system'
  and e.event_at = $run_at
group by e.kind
