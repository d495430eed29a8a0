-- Layer: marts. Progress per target and as-of date (written by kpi.progress), the status
-- history, the expected share of the year per month, and the views analysts query.
-- A view's body is the select-only file in transforms/ named on its `-- include:` line; the
-- runner (kpi.warehouse.migrate) inlines it. Changing a view means a new migration.

create table if not exists mart.progress (
    plan_code       varchar not null,
    as_of           date not null,
    target_code     varchar not null,
    name_zh         varchar not null,
    kind            varchar not null,
    department_code varchar not null,
    headline        boolean not null,
    firmness        varchar not null,
    unit            varchar,                 -- canonical
    target_value    double,                  -- canonical
    actual          double,
    expected        double,
    completion_rate double,                  -- percent, 45.2
    time_progress   double,                  -- percent
    gap_pp          double,                  -- percentage points
    projection      double,
    status          varchar not null
        check (status in ('已完成', '正常', '预警', '滞后', '严重滞后', '无数据')),
    data_status     varchar not null
        check (data_status in ('正常', '缺报', '数据异常', '未到期')),
    outlook         varchar
        check (outlook in ('进展顺利', '经过努力能够完成', '仍需付出更大努力')),
    latest_period   varchar,                 -- 'YYYY-MM'
    computed        boolean not null default false,
    days_overdue    integer,
    detail_zh       varchar,
    computed_at     timestamp not null,
    primary key (plan_code, as_of, target_code)
);

create table if not exists mart.status_history (
    plan_code       varchar not null,
    target_code     varchar not null,
    as_of           date not null,
    status          varchar not null,
    data_status     varchar not null,
    previous_status varchar,
    change          varchar not null
        check (change in (
            'fell_behind', 'worsened', 'improved', 'recovered', 'relapsed', 'completed', 'first'
        )),
    primary key (plan_code, target_code, as_of)
);

create table if not exists mart.time_profile (
    plan_code   varchar not null,
    target_code varchar not null,
    month       integer not null,
    share       double not null,             -- fraction of the annual task expected by month end
    basis       varchar not null,            -- linear, profile, monthly_plan
    primary key (plan_code, target_code, month)
);

create or replace view mart.current_progress as
-- include: current_progress.sql
;
create or replace view mart.progress_by_period as
-- include: progress_by_period.sql
;
create or replace view mart.current_observations as
-- include: current_observations.sql
;
create or replace view mart.submissions as
-- include: submissions.sql
;
create or replace view mart.rejections as
-- include: rejections.sql
;
create or replace view mart.status_changes as
-- include: status_changes.sql
;

comment on table mart.progress is '目标进度（每个计划、截至日期、目标一行）';
comment on column mart.progress.plan_code is '计划代码';
comment on column mart.progress.as_of is '截至日期';
comment on column mart.progress.target_code is '指标代码';
comment on column mart.progress.name_zh is '指标名称';
comment on column mart.progress.kind is '指标类型（growth_rate 增速、cumulative 累计量、count 累计数、level 时点值、ceiling 上限、milestone 节点、relative 相对、qualitative 定性）';
comment on column mart.progress.department_code is '牵头单位代码';
comment on column mart.progress.headline is '是否主要预期目标';
comment on column mart.progress.firmness is '力度（firm 确保、aspirational 力争、plain 一般）';
comment on column mart.progress.unit is '计量单位（入库标准单位）';
comment on column mart.progress.target_value is '年度目标值（标准单位）';
comment on column mart.progress.actual is '实际值：累计值、当前值、累计增速(%)或与参照值之差(百分点)';
comment on column mart.progress.expected is '应达值：按序时进度、路径或目标应达到的值';
comment on column mart.progress.completion_rate is '完成率(%)';
comment on column mart.progress.time_progress is '序时进度(%)';
comment on column mart.progress.gap_pp is '差距（百分点，正为超前、负为滞后）';
comment on column mart.progress.projection is '全年预计值';
comment on column mart.progress.status is '状态：已完成/正常/预警/滞后/严重滞后/无数据';
comment on column mart.progress.data_status is '数据状态：正常/缺报/数据异常/未到期';
comment on column mart.progress.outlook is '年底预判：进展顺利/经过努力能够完成/仍需付出更大努力';
comment on column mart.progress.latest_period is '最新报告期(YYYY-MM)';
comment on column mart.progress.computed is '增速是否由累计值与上年同期值测算';
comment on column mart.progress.days_overdue is '逾期天数（节点任务；已完成的为逾期完成天数）';
comment on column mart.progress.detail_zh is '情况说明';
comment on column mart.progress.computed_at is '计算时间';

comment on table mart.status_history is '状态变化记录（状态或数据状态变化时追加）';
comment on column mart.status_history.plan_code is '计划代码';
comment on column mart.status_history.target_code is '指标代码';
comment on column mart.status_history.as_of is '截至日期';
comment on column mart.status_history.status is '状态';
comment on column mart.status_history.data_status is '数据状态';
comment on column mart.status_history.previous_status is '此前状态';
comment on column mart.status_history.change is '变化：first 首次、fell_behind 转为滞后、worsened 恶化、improved 好转、recovered 恢复、relapsed 再次滞后、completed 完成';

comment on table mart.time_profile is '序时进度曲线（各月末应完成年度任务的比例）';
comment on column mart.time_profile.plan_code is '计划代码';
comment on column mart.time_profile.target_code is '指标代码';
comment on column mart.time_profile.month is '月份';
comment on column mart.time_profile.share is '应完成比例(0-1)';
comment on column mart.time_profile.basis is '依据：linear 按月均衡、profile 季节曲线、monthly_plan 月度计划';

comment on view mart.current_progress is '最新进度（各计划最近一次计算）';
comment on column mart.current_progress.plan_code is '计划代码';
comment on column mart.current_progress.as_of is '截至日期';
comment on column mart.current_progress.department_code is '牵头单位代码';
comment on column mart.current_progress.department_zh is '牵头单位';
comment on column mart.current_progress.target_code is '指标代码';
comment on column mart.current_progress.name_zh is '指标名称';
comment on column mart.current_progress.kind is '指标类型';
comment on column mart.current_progress.headline is '是否主要预期目标';
comment on column mart.current_progress.firmness is '力度';
comment on column mart.current_progress.unit_written is '计量单位（报告原文）';
comment on column mart.current_progress.target_written is '目标值（报告原文单位）';
comment on column mart.current_progress.actual_written is '实际值（报告原文单位）';
comment on column mart.current_progress.completion_rate is '完成率(%)';
comment on column mart.current_progress.time_progress is '序时进度(%)';
comment on column mart.current_progress.gap_pp is '差距（百分点）';
comment on column mart.current_progress.status is '状态';
comment on column mart.current_progress.data_status is '数据状态';
comment on column mart.current_progress.outlook is '年底预判';
comment on column mart.current_progress.latest_period is '最新报告期';
comment on column mart.current_progress.days_overdue is '逾期天数';
comment on column mart.current_progress.computed is '增速为测算值';
comment on column mart.current_progress.detail_zh is '情况说明';
comment on column mart.current_progress.unit is '计量单位（标准单位）';
comment on column mart.current_progress.target_value is '目标值（标准单位）';
comment on column mart.current_progress.actual is '实际值（标准单位）';
comment on column mart.current_progress.expected is '应达值（标准单位）';
comment on column mart.current_progress.projection is '全年预计值（标准单位）';
comment on column mart.current_progress.deadline is '完成期限';
comment on column mart.current_progress.computed_at is '计算时间';

comment on view mart.progress_by_period is '分期进度（各报告期的当期有效数据与序时进度）';
comment on column mart.progress_by_period.plan_code is '计划代码';
comment on column mart.progress_by_period.department_code is '牵头单位代码';
comment on column mart.progress_by_period.department_zh is '牵头单位';
comment on column mart.progress_by_period.target_code is '指标代码';
comment on column mart.progress_by_period.name_zh is '指标名称';
comment on column mart.progress_by_period.kind is '指标类型';
comment on column mart.progress_by_period.period is '报告期(YYYY-MM)';
comment on column mart.progress_by_period.period_month is '截至月份';
comment on column mart.progress_by_period.unit is '计量单位（标准单位）';
comment on column mart.progress_by_period.target_value is '目标值（标准单位）';
comment on column mart.progress_by_period.value is '报送数值（标准单位）';
comment on column mart.progress_by_period.actual is '实际值：累计值、当前值、累计增速或与参照值之差';
comment on column mart.progress_by_period.completion_rate is '完成率(%)';
comment on column mart.progress_by_period.time_progress is '序时进度(%)';
comment on column mart.progress_by_period.gap_pp is '差距（百分点）';
comment on column mart.progress_by_period.computed is '增速为测算值';

comment on view mart.current_observations is '当前有效数据及来源（文件、工作表、行号）';
comment on column mart.current_observations.plan_code is '计划代码';
comment on column mart.current_observations.department_code is '填报单位代码';
comment on column mart.current_observations.department_zh is '填报单位';
comment on column mart.current_observations.target_code is '指标代码';
comment on column mart.current_observations.name_zh is '指标名称';
comment on column mart.current_observations.kind is '指标类型';
comment on column mart.current_observations.period is '报告期';
comment on column mart.current_observations.period_start_month is '起始月份';
comment on column mart.current_observations.period_month is '截至月份';
comment on column mart.current_observations.value is '数值（标准单位）';
comment on column mart.current_observations.unit is '计量单位（标准单位）';
comment on column mart.current_observations.value_raw is '数值（原文）';
comment on column mart.current_observations.unit_raw is '计量单位（原文）';
comment on column mart.current_observations.growth_pct is '同比增长(%)';
comment on column mart.current_observations.prior_value is '上年同期值';
comment on column mart.current_observations.reference_value is '参照值';
comment on column mart.current_observations.milestone_status is '进展状态';
comment on column mart.current_observations.completion_date is '完成日期';
comment on column mart.current_observations.note is '备注';
comment on column mart.current_observations.flags is '校验提示';
comment on column mart.current_observations.revision_no is '修订次数（1 为首报）';
comment on column mart.current_observations.revised_from_value is '修订前数值';
comment on column mart.current_observations.revised_from_file is '修订前文件';
comment on column mart.current_observations.file_name is '文件名';
comment on column mart.current_observations.sheet is '工作表';
comment on column mart.current_observations.row_number is '行号';
comment on column mart.current_observations.received_at is '收到时间';
comment on column mart.current_observations.archive_path is '原始文件存档路径';
comment on column mart.current_observations.submission_id is '报送文件编号（内容哈希）';
comment on column mart.current_observations.obs_id is '数据编号';

comment on view mart.submissions is '报送文件及处理结果';
comment on column mart.submissions.plan_code is '计划代码';
comment on column mart.submissions.department_code is '填报单位代码';
comment on column mart.submissions.department_zh is '填报单位';
comment on column mart.submissions.file_name is '文件名';
comment on column mart.submissions.received_at is '收到时间';
comment on column mart.submissions.ingested_at is '入库时间';
comment on column mart.submissions.status is '处理结果代码';
comment on column mart.submissions.status_zh is '处理结果';
comment on column mart.submissions.reason_zh is '退回原因';
comment on column mart.submissions.n_rows is '数据行数';
comment on column mart.submissions.n_accepted is '接收行数';
comment on column mart.submissions.n_rejected is '隔离行数';
comment on column mart.submissions.n_warnings is '提示数';
comment on column mart.submissions.n_revisions is '修订数';
comment on column mart.submissions.archive_path is '原始文件存档路径';
comment on column mart.submissions.run_id is '运行编号';
comment on column mart.submissions.submission_id is '报送文件编号（内容哈希）';

comment on view mart.rejections is '校验未通过的数据（隔离或标注）';
comment on column mart.rejections.plan_code is '计划代码';
comment on column mart.rejections.department_code is '填报单位代码';
comment on column mart.rejections.department_zh is '填报单位';
comment on column mart.rejections.file_name is '文件名';
comment on column mart.rejections.received_at is '收到时间';
comment on column mart.rejections.sheet is '工作表';
comment on column mart.rejections.row_number is '行号';
comment on column mart.rejections.column_name is '列名';
comment on column mart.rejections.value_raw is '填报内容';
comment on column mart.rejections.reason_zh is '原因';
comment on column mart.rejections.severity is '严重程度代码';
comment on column mart.rejections.severity_zh is '处理方式';
comment on column mart.rejections.expectation is '校验规则';
comment on column mart.rejections.target_code is '指标代码';
comment on column mart.rejections.name_zh is '指标名称';
comment on column mart.rejections.period is '报告期';
comment on column mart.rejections.submission_id is '报送文件编号（内容哈希）';

comment on view mart.status_changes is '状态变化（何时转为滞后、恢复、再次滞后）';
comment on column mart.status_changes.plan_code is '计划代码';
comment on column mart.status_changes.as_of is '截至日期';
comment on column mart.status_changes.department_code is '牵头单位代码';
comment on column mart.status_changes.department_zh is '牵头单位';
comment on column mart.status_changes.target_code is '指标代码';
comment on column mart.status_changes.name_zh is '指标名称';
comment on column mart.status_changes.previous_status is '此前状态';
comment on column mart.status_changes.status is '状态';
comment on column mart.status_changes.data_status is '数据状态';
comment on column mart.status_changes.change is '变化代码';
comment on column mart.status_changes.change_zh is '变化';
