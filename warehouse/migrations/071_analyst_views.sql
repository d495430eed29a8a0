-- The analysts' views, as people read them (issue 12):
-- - mart.rejections says 拒收 / 提示 as the report does (was 已隔离 / 已接收并标注), and gains
--   problem_zh: the reason without its place, so that rows can be counted by what was wrong;
-- - mart.current_progress rounds the figures written in the report's unit (no float noise).
-- Replacing a view drops its comments: they are all given again here.

create or replace view mart.rejections as
-- include: rejections.sql
;
create or replace view mart.current_progress as
-- include: current_progress.sql
;

comment on column mart.submissions.n_rejected is '拒收行数';

comment on view mart.rejections is '校验未通过的行：拒收（未入库）或提示（已接收并标注）';
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
comment on column mart.rejections.problem_zh is '问题（原因去掉文件、工作表、行号、列名，便于按原因统计）';
comment on column mart.rejections.severity is '严重程度代码';
comment on column mart.rejections.severity_zh is '处理方式：拒收/提示（与报告一致）';
comment on column mart.rejections.expectation is '校验规则';
comment on column mart.rejections.target_code is '指标代码';
comment on column mart.rejections.name_zh is '指标名称';
comment on column mart.rejections.period is '报告期';
comment on column mart.rejections.submission_id is '报送文件编号（内容哈希）';

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
comment on column mart.current_progress.target_written is '目标值（报告原文单位，保留 6 位小数）';
comment on column mart.current_progress.actual_written is '实际值（报告原文单位，保留 6 位小数）';
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
