-- Layer: raw (submissions and rows as received) and staged (typed observations).

create table if not exists raw.submissions (
    submission_id varchar primary key,       -- sha256 of the bytes (salted with the plan code when another plan holds the same bytes)
    plan_code     varchar not null,
    department_code varchar,                 -- null when the file names none we know
    file_name     varchar not null,          -- name as received
    archive_path  varchar not null,          -- archive/<sha[:2]>/<sha><ext>, bytes unchanged (refused: rejected/)
    size_bytes    bigint not null,
    received_at   timestamp not null,        -- when it landed in the inbox
    ingested_at   timestamp not null,
    run_id        varchar,
    status        varchar not null,          -- accepted, partial, rejected (duplicates are not stored)
    reason_zh     varchar,                   -- why a whole file was refused
    n_rows        integer not null default 0,
    n_accepted    integer not null default 0,
    n_rejected    integer not null default 0,
    n_warnings    integer not null default 0,
    n_revisions   integer not null default 0,
    n_unchanged   integer not null default 0, -- accepted rows equal to the current value: no new observation
    receipt       json                       -- what `kpi ingest --json` printed for it
);

create table if not exists raw.submission_rows (
    submission_id varchar not null,
    sheet         varchar not null,
    row_number    integer not null,          -- 1-based, as the spreadsheet shows it
    cells         json not null,             -- header as written -> cell as written
    primary key (submission_id, sheet, row_number)
);

create table if not exists staged.observations (
    obs_id        varchar primary key,       -- <sha[:16]>:<sheet>:<row>
    plan_code     varchar not null,
    target_code   varchar not null,
    department_code varchar not null,
    period        varchar not null,          -- 'YYYY-MM', the last month the figure covers
    period_year   integer not null,
    period_month  integer not null,          -- last month covered (6 for 1-6月)
    period_start_month integer not null,     -- first month covered (1 for year-to-date)
    period_end    date not null,             -- last day of period_month
    value         double,                    -- in the target's canonical unit
    unit          varchar,                   -- canonical unit
    value_raw     varchar,                   -- as written
    unit_raw      varchar,                   -- as written
    growth_pct    double,                    -- year-to-date growth on the same period, %
    prior_value   double,                    -- same period last year, canonical unit
    reference_value double,                  -- the reference series (e.g. city average)
    milestone_status varchar,                -- not_started, in_progress, done
    completion_date date,
    note          varchar,
    flags         varchar[],                 -- warnings accepted with the row
    submission_id varchar not null,
    file_name     varchar not null,
    sheet         varchar not null,
    row_number    integer not null,
    received_at   timestamp not null,
    revision_no   integer not null,          -- 1 = first reported
    supersedes    varchar,                   -- obs_id of the value this one revised
    is_current    boolean not null
);

create table if not exists staged.rejections (
    submission_id varchar not null,
    plan_code     varchar not null,
    file_name     varchar not null,
    sheet         varchar,
    row_number    integer,                   -- null when the whole file is refused
    column_name   varchar,
    value_raw     varchar,
    reason_zh     varchar not null,
    expectation   varchar,                   -- the rule that failed
    severity      varchar not null,          -- critical (quarantined) or warning (accepted, flagged)
    target_code   varchar,
    period        varchar,
    department_code varchar
);
