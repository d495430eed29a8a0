-- Layer: meta. What each pipeline run saw and did, kept in the warehouse by run id, so that a
-- retried task cannot change what a run reports (its summary and meta.runs are read from here).
-- Stored submissions carry their run id in raw.submissions; meta.run_files holds the files that
-- leave no submission row: duplicates of a stored file, and skipped files (Excel lock files,
-- sync temporaries). mart.run_files puts both together: the one count of a night's files that
-- the run summary, the Prefect artifact and the report all show.

alter table meta.runs add column if not exists files_duplicate integer default 0;
alter table meta.runs add column if not exists files_skipped integer default 0;
-- The run's "now" as naive district time: alerts.events and alerts.outbox rows it wrote carry it.
alter table meta.runs add column if not exists run_at timestamp;

create table if not exists meta.run_files (
    run_id        varchar not null,
    plan_code     varchar not null,
    file_name     varchar not null,          -- name as found in the inbox
    status        varchar not null,          -- duplicate, skipped
    submission_id varchar not null default '', -- the stored submission a duplicate repeats ('' if skipped)
    reason_zh     varchar,
    seen_at       timestamp not null,
    primary key (run_id, file_name, status, submission_id)
);

create or replace view mart.run_files as
-- include: run_files.sql
;

comment on table meta.runs is '流程运行记录（每晚流程、回放等，每次运行一行）';
comment on column meta.runs.run_id is '运行编号';
comment on column meta.runs.plan_code is '计划代码';
comment on column meta.runs.flow is '流程（nightly 每晚流程，replay 回放）';
comment on column meta.runs.as_of is '评估截至日期';
comment on column meta.runs.started_at is '开始时间';
comment on column meta.runs.finished_at is '结束时间';
comment on column meta.runs.status is '运行状态（running 运行中，completed 完成，failed 失败，abandoned 中断）';
comment on column meta.runs.files_seen is '收到文件数（不含跳过的临时文件）';
comment on column meta.runs.files_accepted is '全部接收的文件数';
comment on column meta.runs.files_partial is '部分接收的文件数';
comment on column meta.runs.files_rejected is '整体退回的文件数';
comment on column meta.runs.files_duplicate is '重复文件数（内容与已收文件相同，未再入库）';
comment on column meta.runs.files_skipped is '跳过的文件数（Excel 锁文件、同步临时文件）';
comment on column meta.runs.rows_accepted is '接收行数';
comment on column meta.runs.rows_rejected is '拒收行数';
comment on column meta.runs.alerts_raised is '新发提醒数（新开及恶化）';
comment on column meta.runs.run_at is '运行时刻（本次运行的“当前时间”）';

comment on table meta.run_files is '运行中未入库的文件（重复文件、跳过的临时文件）';
comment on column meta.run_files.run_id is '运行编号';
comment on column meta.run_files.plan_code is '计划代码';
comment on column meta.run_files.file_name is '文件名';
comment on column meta.run_files.status is '处理结果代码（duplicate 重复，skipped 跳过）';
comment on column meta.run_files.submission_id is '重复的已收文件编号（跳过时为空）';
comment on column meta.run_files.reason_zh is '说明';
comment on column meta.run_files.seen_at is '发现时间';

comment on view mart.run_files is '每次运行收到的文件及处理结果';
comment on column mart.run_files.run_id is '运行编号';
comment on column mart.run_files.plan_code is '计划代码';
comment on column mart.run_files.file_name is '文件名';
comment on column mart.run_files.status is '处理结果代码';
comment on column mart.run_files.status_zh is '处理结果';
comment on column mart.run_files.department_code is '填报单位代码';
comment on column mart.run_files.department_zh is '填报单位';
comment on column mart.run_files.rows_accepted is '接收行数';
comment on column mart.run_files.rows_rejected is '拒收行数';
comment on column mart.run_files.revisions is '修订数';
comment on column mart.run_files.reason_zh is '原因';
comment on column mart.run_files.received_at is '收到时间';
comment on column mart.run_files.submission_id is '报送文件编号（内容哈希）';
comment on column mart.run_files.position is '排序（收到先后）';
