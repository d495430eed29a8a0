-- Layer: alerts. Alert episodes with their "13710" workflow, and the outbox that messages are
-- delivered from (at most once per message x channel x part, every attempt recorded).
-- Timestamps are naive district local time (cfg.timezone), like the rest of the warehouse;
-- day counts are calendar days in that time zone.
-- No column ever holds a robot key or password: channels are stored as tag + scheme + host.
create schema if not exists alerts;

create sequence if not exists alerts.episode_ids start 1;
create sequence if not exists alerts.event_ids start 1;
create sequence if not exists alerts.message_ids start 1;

-- One row per spell of a target in an alerting status (预警/滞后/严重滞后); recovery or
-- `kpi close` ends it. Its id is what people type: `kpi ack 12`.
create table if not exists alerts.episodes (
    episode_id      integer primary key,
    plan_code       varchar not null,
    target_code     varchar not null,
    department_code varchar not null,
    name_zh         varchar not null,
    major           boolean not null,        -- headline, ceiling breach or overdue milestone: 1 month
    status          varchar not null,        -- current alerting status
    status_rank     integer not null,        -- 1 预警, 2 滞后, 3 严重滞后
    notified_rank   integer not null,        -- worst status the department has been told about
    worst_status    varchar not null,
    state           varchar not null,        -- open, closed
    opened_at       timestamp not null,      -- the 13710 clock starts here
    opened_on       date not null,           -- opened_at as a local calendar date (day 0)
    opened_as_of    date not null,
    last_as_of      date not null,
    last_sent_at    timestamp,               -- last message to the department about it
    acked_at        timestamp,
    ack_note        varchar,
    feedback_at     timestamp,
    feedback_text   varchar,
    reminded_at     timestamp,               -- day 1: re-sent, not acknowledged
    escalated_at    timestamp,               -- day 3: no feedback, escalated to 督查局
    escalated_again_at timestamp,            -- day 7 (ordinary) or day 30 (major): still open
    closed_at       timestamp,
    close_reason    varchar,                 -- recovered, completed, closed (by `kpi close`)
    close_note      varchar,
    cleared_at      timestamp,               -- a manual close stops holding back new episodes
    snapshot        json not null            -- the latest mart.progress figures shown in messages
);

-- The workflow as it happened: system steps and what people recorded.
create table if not exists alerts.events (
    event_id        integer primary key,
    episode_id      integer not null,
    event_at        timestamp not null,
    kind            varchar not null,        -- opened worsened improved repeated reminded escalated
                                             -- escalated_again recovered closed acked feedback
    status          varchar,
    actor           varchar not null,        -- system, or the OS user behind the CLI
    note            varchar
);

-- Messages to send, written in the same transaction as the episode change that causes them.
create table if not exists alerts.outbox (
    message_id      integer primary key,
    plan_code       varchar not null,
    dedupe_key      varchar not null unique, -- one fact never yields two messages
    kind            varchar not null,        -- dept_alert receipt due_reminder overdue_notice
                                             -- ack_reminder escalation digest
    route           varchar not null,        -- apprise tag: dept-xxx, leaders, dcj
    department_code varchar,
    as_of           date,
    title           varchar not null,        -- email subject, markdown heading
    md_parts        varchar[] not null,      -- WeCom markdown, each part <= 4096 bytes UTF-8
    text_parts      varchar[] not null,      -- WeCom text sent with @mentions, each <= 2048 bytes
    html            varchar not null,        -- email body (table); plain text derived from it
    mention         boolean not null,        -- someone must be @-ed
    episode_ids     integer[] not null,
    created_at      timestamp not null,
    not_before      timestamp not null,      -- quiet hours: held until the morning
    done_at         timestamp                -- every channel delivered (or given up)
);

-- One row per message x channel x part: the idempotency key of a delivery.
create table if not exists alerts.deliveries (
    delivery_key    varchar primary key,     -- <message_id>|<channel>|<part>
    message_id      integer not null,
    channel         varchar not null,        -- <tag>|<scheme>://<host>#<n>
    tag             varchar not null,
    scheme          varchar not null,
    host            varchar,
    part            integer not null,
    parts           integer not null,
    state           varchar not null,        -- pending, delivered, failed (given up)
    attempts        integer not null,
    first_attempt_at timestamp,
    last_attempt_at timestamp,
    next_attempt_at timestamp,
    delivered_at    timestamp,
    last_outcome    varchar,
    last_error      varchar                  -- masked
);

-- Every attempt, successful or not.
create table if not exists alerts.attempts (
    delivery_key    varchar not null,
    attempt_no      integer not null,
    attempted_at    timestamp not null,
    outcome         varchar not null,        -- sent timeout refused http_error errcode too_long error
    http_status     integer,
    errcode         integer,
    detail          varchar,                 -- masked
    elapsed_ms      integer,
    primary key (delivery_key, attempt_no)
);
