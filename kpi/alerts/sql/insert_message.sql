-- Queue one message in the outbox (in the same transaction as the episode change causing it).
insert into alerts.outbox (
    message_id,
    plan_code,
    dedupe_key,
    kind,
    route,
    routes,
    department_code,
    as_of,
    title,
    md_parts,
    text_parts,
    html,
    mention,
    episode_ids,
    created_at,
    not_before
)
values (
    $message_id,
    $plan_code,
    $dedupe_key,
    $kind,
    $route,
    $routes,
    $department_code,
    $as_of,
    $title,
    $md_parts,
    $text_parts,
    $html,
    $mention,
    $episode_ids,
    $created_at,
    $not_before
)
