-- Layer: meta and ref. Schema bookkeeping, pipeline runs, and the catalogue mirrored for SQL.
create schema if not exists meta;
create schema if not exists ref;
create schema if not exists raw;
create schema if not exists staged;
create schema if not exists mart;

create table if not exists meta.runs (
    run_id        varchar primary key,
    plan_code     varchar not null,
    flow          varchar not null,          -- nightly, ingest, replay day, ...
    as_of         date not null,
    started_at    timestamp not null,
    finished_at   timestamp,
    status        varchar not null,          -- running, completed, failed
    files_seen    integer default 0,
    files_accepted integer default 0,
    files_partial integer default 0,
    files_rejected integer default 0,
    rows_accepted integer default 0,
    rows_rejected integer default 0,
    alerts_raised integer default 0
);

create table if not exists ref.plans (
    plan_code     varchar primary key,
    name_zh       varchar not null,
    district_zh   varchar not null,
    year          integer not null,
    start_date    date not null,
    end_date      date not null,
    catalogue_sha varchar not null
);

create table if not exists ref.departments (
    plan_code     varchar not null,
    code          varchar not null,
    name_zh       varchar not null,
    short_zh      varchar not null,
    route         varchar not null,
    primary key (plan_code, code)
);

create table if not exists ref.targets (
    plan_code     varchar not null,
    code          varchar not null,
    name_zh       varchar not null,
    name_en       varchar not null,
    section       varchar not null,
    headline      boolean not null,
    kind          varchar not null,
    comparator    varchar not null,
    value         double,                    -- as written in the report, in `unit`
    unit          varchar,
    canonical_value double,                  -- in canonical_unit: what observations are stored in
    canonical_unit varchar,
    deadline      date not null,
    firmness      varchar not null,
    department    varchar not null,
    supporting    varchar[],
    cadence       varchar not null,
    due_day       integer not null,
    baseline_value double,
    baseline_unit varchar,
    reference     varchar,
    profile       double[],
    source        varchar not null,
    primary key (plan_code, code)
);
