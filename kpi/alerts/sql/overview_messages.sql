-- Every outbox message of a plan, as `kpi alerts` shows it beside its episodes.
select
    message_id,
    kind,
    route,
    title,
    episode_ids,
    created_at,
    not_before,
    done_at
from alerts.outbox
where plan_code = $plan_code
order by message_id
