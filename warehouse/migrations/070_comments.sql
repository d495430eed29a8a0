-- Chinese comments on every table, column and sequence outside `mart` (which 020 comments), so
-- that an analyst reads the snapshot without this repository: `select * from duckdb_columns()`.
-- A migration that adds a table or column comments it in the same file
-- (tests/progress/test_snapshot_format.py fails on anything left without one).

-- meta ------------------------------------------------------------------------------------
comment on table meta.schema_version is '数据库结构版本（已执行的迁移脚本）';
comment on column meta.schema_version.version is '版本号（迁移脚本编号）';
comment on column meta.schema_version.name is '迁移脚本名称';
comment on column meta.schema_version.applied_at is '执行时间';

comment on table meta.runs is '流程运行记录（每晚运行、回放等，每次一行）';
comment on column meta.runs.run_id is '运行编号';
comment on column meta.runs.plan_code is '计划代码';
comment on column meta.runs.flow is '流程（nightly 每晚运行、replay 回放等）';
comment on column meta.runs.as_of is '截至日期';
comment on column meta.runs.started_at is '开始时间';
comment on column meta.runs.finished_at is '结束时间（未结束为空）';
comment on column meta.runs.status is '运行状态（running 运行中、completed 完成、failed 失败、abandoned 中断）';
comment on column meta.runs.files_seen is '收到文件数';
comment on column meta.runs.files_accepted is '全部接收的文件数';
comment on column meta.runs.files_partial is '部分接收的文件数';
comment on column meta.runs.files_rejected is '整体退回的文件数';
comment on column meta.runs.rows_accepted is '接收行数';
comment on column meta.runs.rows_rejected is '拒收行数';
comment on column meta.runs.alerts_raised is '新发提醒数';

-- ref -------------------------------------------------------------------------------------
comment on table ref.plans is '计划（某区某年度的目标任务清单）';
comment on column ref.plans.plan_code is '计划代码';
comment on column ref.plans.name_zh is '计划名称';
comment on column ref.plans.district_zh is '地区';
comment on column ref.plans.year is '年度';
comment on column ref.plans.start_date is '计划开始日期';
comment on column ref.plans.end_date is '计划结束日期';
comment on column ref.plans.catalogue_sha is '目标清单文件的内容哈希（sha256）';

comment on table ref.departments is '单位名录（牵头单位、填报单位）';
comment on column ref.departments.plan_code is '计划代码';
comment on column ref.departments.code is '单位代码';
comment on column ref.departments.name_zh is '单位全称';
comment on column ref.departments.short_zh is '单位简称';
comment on column ref.departments.route is '提醒推送标签（企业微信群、邮件的路由）';

comment on table ref.targets is '目标任务清单（每个计划、指标一行）';
comment on column ref.targets.plan_code is '计划代码';
comment on column ref.targets.code is '指标代码';
comment on column ref.targets.name_zh is '指标名称';
comment on column ref.targets.name_en is '指标英文名';
comment on column ref.targets.section is '所在报告章节';
comment on column ref.targets.headline is '是否主要预期目标';
comment on column ref.targets.kind is '指标类型（growth_rate 增速、cumulative 累计量、count 累计数、level 时点值、ceiling 上限、milestone 节点、relative 相对、qualitative 定性）';
comment on column ref.targets.comparator is '比较方式（>= 不低于、> 高于、<= 不高于、done 完成）';
comment on column ref.targets.value is '目标值（报告原文单位）';
comment on column ref.targets.unit is '计量单位（报告原文）';
comment on column ref.targets.canonical_value is '目标值（标准单位，数据按此单位入库）';
comment on column ref.targets.canonical_unit is '标准单位';
comment on column ref.targets.deadline is '完成期限';
comment on column ref.targets.firmness is '力度（firm 确保、aspirational 力争、plain 一般）';
comment on column ref.targets.department is '牵头单位代码';
comment on column ref.targets.supporting is '配合单位代码';
comment on column ref.targets.cadence is '报送频次（monthly 月报、quarterly 季报、half_yearly 半年报、annual 年报）';
comment on column ref.targets.due_day is '报送截止日（报告期次月几日）';
comment on column ref.targets.baseline_value is '上年基数';
comment on column ref.targets.baseline_unit is '上年基数的计量单位';
comment on column ref.targets.reference is '相对目标的参照（city_average 全市平均、district_average 全区平均）';
comment on column ref.targets.profile is '季节曲线：1-12月末应完成年度任务的累计比例';
comment on column ref.targets.source is '报告原文';

-- raw -------------------------------------------------------------------------------------
comment on table raw.submissions is '收到的报送文件（原样存档，每个文件一行）';
comment on column raw.submissions.submission_id is '报送文件编号（内容哈希）';
comment on column raw.submissions.plan_code is '计划代码';
comment on column raw.submissions.department_code is '填报单位代码（无法识别为空）';
comment on column raw.submissions.file_name is '文件名（收到时的名称）';
comment on column raw.submissions.archive_path is '原始文件存档路径（内容不变）';
comment on column raw.submissions.size_bytes is '文件大小（字节）';
comment on column raw.submissions.received_at is '收到时间（进入收件箱的时间，区时）';
comment on column raw.submissions.ingested_at is '入库时间';
comment on column raw.submissions.run_id is '运行编号';
comment on column raw.submissions.status is '处理结果（accepted 全部接收、partial 部分接收、rejected 整体退回）';
comment on column raw.submissions.reason_zh is '整体退回的原因';
comment on column raw.submissions.n_rows is '数据行数';
comment on column raw.submissions.n_accepted is '接收行数';
comment on column raw.submissions.n_rejected is '拒收行数';
comment on column raw.submissions.n_warnings is '提示数';
comment on column raw.submissions.n_revisions is '修订数（改报此前数据的行数）';
comment on column raw.submissions.n_unchanged is '与现有数据相同、未新增记录的行数';
comment on column raw.submissions.receipt is '回执（JSON：各行处理结果与原因）';

comment on table raw.submission_rows is '报送文件的原始行（表头原文 -> 单元格原文）';
comment on column raw.submission_rows.submission_id is '报送文件编号（内容哈希）';
comment on column raw.submission_rows.sheet is '工作表';
comment on column raw.submission_rows.row_number is '行号（与表格中显示的一致）';
comment on column raw.submission_rows.cells is '单元格原文（JSON：表头 -> 内容）';

-- staged ----------------------------------------------------------------------------------
comment on table staged.observations is '已接收的数据（标准单位，可追溯到文件、工作表、行号；含修订）';
comment on column staged.observations.obs_id is '数据编号（文件哈希:工作表:行号）';
comment on column staged.observations.plan_code is '计划代码';
comment on column staged.observations.target_code is '指标代码';
comment on column staged.observations.department_code is '填报单位代码';
comment on column staged.observations.period is '报告期（YYYY-MM，数据截至月份）';
comment on column staged.observations.period_year is '报告期年份';
comment on column staged.observations.period_month is '截至月份';
comment on column staged.observations.period_start_month is '起始月份（年初至今为 1）';
comment on column staged.observations.period_end is '报告期最后一天';
comment on column staged.observations.value is '数值（标准单位）';
comment on column staged.observations.unit is '计量单位（标准单位）';
comment on column staged.observations.value_raw is '数值（原文）';
comment on column staged.observations.unit_raw is '计量单位（原文）';
comment on column staged.observations.growth_pct is '累计同比增长(%)';
comment on column staged.observations.prior_value is '上年同期值（标准单位）';
comment on column staged.observations.reference_value is '参照值（如全市平均增速）';
comment on column staged.observations.milestone_status is '进展状态（not_started 未启动、in_progress 推进中、done 已完成）';
comment on column staged.observations.completion_date is '完成日期';
comment on column staged.observations.note is '备注';
comment on column staged.observations.flags is '校验提示（接收但标注的问题）';
comment on column staged.observations.submission_id is '报送文件编号（内容哈希）';
comment on column staged.observations.file_name is '文件名';
comment on column staged.observations.sheet is '工作表';
comment on column staged.observations.row_number is '行号';
comment on column staged.observations.received_at is '收到时间（区时）';
comment on column staged.observations.revision_no is '修订次数（1 为首报）';
comment on column staged.observations.supersedes is '所修订的数据编号';
comment on column staged.observations.is_current is '是否当前有效（未被后来的报送修订）';

comment on table staged.rejections is '校验未通过的行（拒收）与提示（接收并标注）';
comment on column staged.rejections.submission_id is '报送文件编号（内容哈希）';
comment on column staged.rejections.plan_code is '计划代码';
comment on column staged.rejections.file_name is '文件名';
comment on column staged.rejections.sheet is '工作表（整个文件被退回时为空）';
comment on column staged.rejections.row_number is '行号（整个文件被退回时为空）';
comment on column staged.rejections.column_name is '列名（表头原文）';
comment on column staged.rejections.value_raw is '填报内容（原文）';
comment on column staged.rejections.reason_zh is '原因（含文件、工作表、行号、列名）';
comment on column staged.rejections.expectation is '校验规则（expectations/submission.yaml 中的 id）';
comment on column staged.rejections.severity is '严重程度（critical 拒收、warning 提示）';
comment on column staged.rejections.target_code is '指标代码';
comment on column staged.rejections.period is '报告期';
comment on column staged.rejections.department_code is '填报单位代码';

-- alerts ----------------------------------------------------------------------------------
comment on sequence alerts.episode_ids is '预警事项编号序列';
comment on sequence alerts.event_ids is '处理记录编号序列';
comment on sequence alerts.message_ids is '消息编号序列';

comment on table alerts.episodes is '预警事项（某目标处于预警、滞后或严重滞后的一段时间，按“13710”跟踪）';
comment on column alerts.episodes.episode_id is '事项编号（kpi ack 12 中的 12）';
comment on column alerts.episodes.plan_code is '计划代码';
comment on column alerts.episodes.target_code is '指标代码';
comment on column alerts.episodes.department_code is '牵头单位代码';
comment on column alerts.episodes.name_zh is '指标名称';
comment on column alerts.episodes.major is '是否重大事项（主要预期目标、突破上限、节点逾期：30 天时限）';
comment on column alerts.episodes.status is '当前状态（预警、滞后、严重滞后）';
comment on column alerts.episodes.status_rank is '状态等级（1 预警、2 滞后、3 严重滞后）';
comment on column alerts.episodes.notified_rank is '已告知单位的最严重等级';
comment on column alerts.episodes.worst_status is '期间最严重的状态';
comment on column alerts.episodes.state is '事项状态（open 未销号、closed 已销号）';
comment on column alerts.episodes.opened_at is '立项时间（“13710”计时起点）';
comment on column alerts.episodes.opened_on is '立项日期（第 0 天）';
comment on column alerts.episodes.opened_as_of is '立项时的截至日期';
comment on column alerts.episodes.last_as_of is '最近一次判定的截至日期';
comment on column alerts.episodes.last_sent_at is '最近一次向单位发送的时间';
comment on column alerts.episodes.acked_at is '签收时间（1 天内研究）';
comment on column alerts.episodes.ack_note is '签收说明';
comment on column alerts.episodes.feedback_at is '反馈时间（3 天内反馈督查局）';
comment on column alerts.episodes.feedback_text is '反馈内容';
comment on column alerts.episodes.reminded_at is '未签收再次提醒的时间（第 1 天）';
comment on column alerts.episodes.escalated_at is '未反馈报督查局的时间（第 3 天）';
comment on column alerts.episodes.escalated_again_at is '仍未销号再次上报的时间（第 7 天或第 30 天）';
comment on column alerts.episodes.closed_at is '销号时间';
comment on column alerts.episodes.close_reason is '销号原因（recovered 恢复、completed 完成、closed 人工销号）';
comment on column alerts.episodes.close_note is '销号说明';
comment on column alerts.episodes.cleared_at is '人工销号后不再阻止新事项的时间';
comment on column alerts.episodes.snapshot is '消息中展示的最新进度数据（JSON）';

comment on table alerts.events is '预警事项处理记录（系统步骤与人工签收、反馈、销号）';
comment on column alerts.events.event_id is '记录编号';
comment on column alerts.events.episode_id is '事项编号';
comment on column alerts.events.event_at is '时间';
comment on column alerts.events.kind is '类别（opened 立项、worsened 恶化、improved 好转、repeated 重发、reminded 提醒、escalated 上报、escalated_again 再次上报、recovered 恢复、closed 销号、acked 签收、feedback 反馈）';
comment on column alerts.events.status is '当时的状态';
comment on column alerts.events.actor is '操作者（system 系统，或命令行用户）';
comment on column alerts.events.note is '说明';

comment on table alerts.outbox is '待发消息（与引起它的事项变化同一事务写入）';
comment on column alerts.outbox.message_id is '消息编号';
comment on column alerts.outbox.plan_code is '计划代码';
comment on column alerts.outbox.dedupe_key is '去重键（同一事实只生成一条消息）';
comment on column alerts.outbox.kind is '消息类别（dept_alert 单位预警、receipt 回执、due_reminder 报送提醒、overdue_notice 逾期通知、ack_reminder 签收提醒、escalation 上报、digest 领导摘要）';
comment on column alerts.outbox.route is '推送标签（dept-xxx、leaders、dcj）';
comment on column alerts.outbox.department_code is '单位代码';
comment on column alerts.outbox.as_of is '截至日期';
comment on column alerts.outbox.title is '标题（邮件主题、消息标题）';
comment on column alerts.outbox.md_parts is '企业微信 markdown 分段（每段不超过 4096 字节）';
comment on column alerts.outbox.text_parts is '企业微信文本分段（带 @，每段不超过 2048 字节）';
comment on column alerts.outbox.html is '邮件正文（HTML）';
comment on column alerts.outbox.mention is '是否需要 @ 相关人员';
comment on column alerts.outbox.episode_ids is '涉及的事项编号';
comment on column alerts.outbox.created_at is '生成时间';
comment on column alerts.outbox.not_before is '最早发送时间（夜间消息推迟到早上）';
comment on column alerts.outbox.done_at is '全部渠道发送完毕（或放弃）的时间';

comment on table alerts.deliveries is '消息投递（每条消息 × 渠道 × 分段一行，保证至多发送一次）';
comment on column alerts.deliveries.delivery_key is '投递键（消息编号|渠道|分段）';
comment on column alerts.deliveries.message_id is '消息编号';
comment on column alerts.deliveries.channel is '渠道（标签|协议://主机#序号，不含密钥）';
comment on column alerts.deliveries.tag is '推送标签';
comment on column alerts.deliveries.scheme is '协议（kpiwecom、mailto 等）';
comment on column alerts.deliveries.host is '主机';
comment on column alerts.deliveries.part is '分段序号';
comment on column alerts.deliveries.parts is '分段总数';
comment on column alerts.deliveries.state is '投递状态（pending 待发、delivered 已送达、failed 已放弃）';
comment on column alerts.deliveries.attempts is '尝试次数';
comment on column alerts.deliveries.first_attempt_at is '首次尝试时间';
comment on column alerts.deliveries.last_attempt_at is '最近尝试时间';
comment on column alerts.deliveries.next_attempt_at is '下次重试时间';
comment on column alerts.deliveries.delivered_at is '送达时间';
comment on column alerts.deliveries.last_outcome is '最近一次结果';
comment on column alerts.deliveries.last_error is '最近一次错误（已脱敏）';

comment on table alerts.attempts is '每一次投递尝试（成功与否都记录）';
comment on column alerts.attempts.delivery_key is '投递键';
comment on column alerts.attempts.attempt_no is '第几次尝试';
comment on column alerts.attempts.attempted_at is '尝试时间';
comment on column alerts.attempts.outcome is '结果（sent 已发送、timeout 超时、refused 拒绝连接、http_error HTTP 错误、errcode 企业微信错误码、too_long 超长、error 其他错误）';
comment on column alerts.attempts.http_status is 'HTTP 状态码';
comment on column alerts.attempts.errcode is '企业微信 errcode';
comment on column alerts.attempts.detail is '详情（已脱敏）';
comment on column alerts.attempts.elapsed_ms is '耗时（毫秒）';
