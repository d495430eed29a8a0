-- Every outbox message of a plan, as `kpi alerts` shows it beside its episodes (and, with
-- --all, on its own: receipts, reminders and notices included).
select
    message_id,
    kind,
    route,
    coalesce(routes, [route]) as routes,
    title,
    episode_ids,
    created_at,
    not_before,
    done_at
from alerts.outbox
where plan_code = $plan_code
order by message_id
