-- Layer: alerts. Delivery you can trust (issue 11): a message goes to a channel once however
-- many of its tags lead there; a send whose answer never came is "uncertain" and repeated at
-- most once, marked （重发）; permanent errors end a delivery and can mark a channel dead.
-- Channels are named by scheme, host and a fingerprint of the URL as written in the apprise
-- file (never a key or password).

-- Every tag a message goes to (digest and second escalation: leaders and dcj). Null on rows
-- written before this migration: the message goes to `route` alone.
alter table alerts.outbox add column routes varchar[];
comment on column alerts.outbox.routes is '消息发往的全部路由标签；同一渠道无论被几个标签指向只发一次；为空表示只发往 route';

-- Sends of this part whose outcome is unknown (answer timed out after the request was sent,
-- connection dropped before the answer, or the process died mid-send).
alter table alerts.deliveries add column uncertain integer default 0;
comment on column alerts.deliveries.uncertain is '结果不明的发送次数（已发出但超时无应答、应答前断开、进程中断）；出现后只再补发一次并标注（重发）';

-- Attempts that ended in a permanent error (invalid robot key, SMTP 5xx, authentication).
alter table alerts.deliveries add column permanent_errors integer default 0;
comment on column alerts.deliveries.permanent_errors is '以永久性错误结束的尝试次数（机器人 key 无效、SMTP 5xx、认证失败等）；达到上限即无法送达';

-- When a delivery that could not be made was reported to the supervision office's route.
alter table alerts.deliveries add column reported_at timestamp;
comment on column alerts.deliveries.reported_at is '无法送达已报告督查局（送达失败报告）的时间';

alter table alerts.attempts add column smtp_code integer;
comment on column alerts.attempts.smtp_code is 'SMTP 服务器的应答码（如 451 暂时失败、550 收件人无效、535 认证失败）';

alter table alerts.attempts add column uncertain boolean default false;
comment on column alerts.attempts.uncertain is '本次发送结果不明：请求已完整发出，但未收到确认（可能已送达）';

alter table alerts.attempts add column marked boolean default false;
comment on column alerts.attempts.marked is '本次发送带有（重发）标注：上一次发送结果不明，接收方可能收到两次';

-- Health of each channel across runs: a channel that answers with permanent errors is "dead"
-- and is not tried again (its deliveries end as 无法送达 at once) until a recheck is due.
create table if not exists alerts.channels (
    channel          varchar primary key,    -- <scheme>://<host>#<fingerprint>
    kind             varchar not null,       -- wecom, email, sink, other
    state            varchar not null,       -- ok, dead
    permanent_errors integer not null,       -- consecutive permanent errors
    dead_since       timestamp,
    last_attempt_at  timestamp,
    last_ok_at       timestamp,
    last_error       varchar                 -- masked
);
comment on table alerts.channels is '发送渠道（企业微信机器人、邮箱）的健康状况：连续永久性错误达到上限即判定失效，失效期间不再请求';
comment on column alerts.channels.channel is '渠道标识：协议://主机#指纹（指纹取自配置文件中的原始写法，不含任何密钥）';
comment on column alerts.channels.kind is '渠道类型：wecom 企业微信机器人，email 邮件，sink 本地文件，other 其他';
comment on column alerts.channels.state is '渠道状态：ok 正常，dead 已失效（永久性错误）';
comment on column alerts.channels.permanent_errors is '连续以永久性错误结束的尝试次数';
comment on column alerts.channels.dead_since is '判定失效的时间（到期后会再试一次）';
comment on column alerts.channels.last_attempt_at is '最近一次向该渠道发送的时间';
comment on column alerts.channels.last_ok_at is '最近一次成功送达的时间';
comment on column alerts.channels.last_error is '最近一次错误（已隐去密钥）';
