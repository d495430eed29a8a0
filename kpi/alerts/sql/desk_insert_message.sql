-- Queue one 催报 message in the outbox (same columns and conventions as insert_message.sql).
insert into alerts.outbox (
    message_id,
    plan_code,
    dedupe_key,
    kind,
    route,
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
    nextval('alerts.message_ids'),
    $plan_code,
    $dedupe_key,
    $kind,
    $route,
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
returning message_id
