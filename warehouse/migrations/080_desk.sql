-- Layer: meta. The submission desk (kpi desk): who asked for what, and which links were revoked.
-- Neither table ever holds a token: only its id (the signed token lives in the link alone).

-- Every request the desk answered, flushed from the desk's buffer file whenever the run lock
-- is free (the nightly run holds the warehouse; the desk never waits on it to log).
create table if not exists meta.access (
    access_id   varchar primary key,         -- unique per request: a re-flush inserts nothing
    accessed_at timestamp not null,          -- district local time
    scope       varchar,                     -- dept:<code>, dcj, leaders; null without a token
    token_id    varchar,
    method      varchar not null,
    path        varchar not null,            -- without the query string (never a token)
    status      integer not null,
    elapsed_ms  integer,
    client      varchar                      -- client address (as forwarded by a trusted proxy)
);

-- Revoked links: one token by id, or every token of a scope issued before revoked_at.
create table if not exists meta.desk_revocations (
    revoked_at  timestamp not null,
    token_id    varchar,                     -- one token
    scope       varchar,                     -- or a whole scope: dept:<code>, dcj, leaders
    actor       varchar not null,            -- OS user behind `kpi desk revoke`
    note        varchar,
    check (token_id is not null or scope is not null)
);

comment on table meta.access is '填报网页访问日志（每个请求一行，不含令牌本身）';
comment on column meta.access.access_id is '请求编号（唯一，重复写入时忽略）';
comment on column meta.access.accessed_at is '请求时间（本地时间）';
comment on column meta.access.scope is '访问身份：dept:单位代码、dcj（督查局）、leaders（区领导）；无令牌为空';
comment on column meta.access.token_id is '令牌编号（不含令牌本身）';
comment on column meta.access.method is 'HTTP 方法';
comment on column meta.access.path is '访问路径（不含查询参数）';
comment on column meta.access.status is 'HTTP 状态码';
comment on column meta.access.elapsed_ms is '处理耗时（毫秒）';
comment on column meta.access.client is '客户端地址（经可信反向代理转发时为原始地址）';

comment on table meta.desk_revocations is '已吊销的填报网页链接（按令牌编号，或按身份吊销此前签发的全部令牌）';
comment on column meta.desk_revocations.revoked_at is '吊销时间（本地时间）；按身份吊销时，此前签发的令牌均失效';
comment on column meta.desk_revocations.token_id is '被吊销的令牌编号';
comment on column meta.desk_revocations.scope is '被吊销的身份：dept:单位代码、dcj、leaders';
comment on column meta.desk_revocations.actor is '执行吊销的操作系统用户';
comment on column meta.desk_revocations.note is '吊销说明';
