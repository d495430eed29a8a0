-- mart.progress and mart.status_history as the contract in docs/ARCHITECTURE.md describes them;
-- used only when migration 020 (written by the progress engineer) has not created them.
create schema if not exists mart;

create table if not exists mart.progress (
    plan_code       varchar not null,
    as_of           date not null,
    target_code     varchar not null,
    name_zh         varchar,
    kind            varchar,
    department_code varchar,
    headline        boolean,
    firmness        varchar,
    unit            varchar,
    target_value    double,
    actual          double,
    expected        double,
    completion_rate double,
    time_progress   double,
    gap_pp          double,
    projection      double,
    status          varchar,
    data_status     varchar,
    outlook         varchar,
    latest_period   varchar,
    computed        boolean,
    days_overdue    integer,
    detail_zh       varchar,
    computed_at     timestamp,
    primary key (plan_code, as_of, target_code)
);

create table if not exists mart.status_history (
    plan_code       varchar not null,
    target_code     varchar not null,
    as_of           date not null,
    status          varchar,
    data_status     varchar,
    previous_status varchar,
    change          varchar
);
