-- Layer: ref. The pace rule (序时进度曲线) of each target, from the plan's 分解表 (kpi plan import).
alter table ref.targets add column if not exists pace varchar;

comment on column ref.targets.pace is '序时进度曲线：linear 按月均衡、seasonal 季节曲线、path 基数路径（无基数则从零起步）、direct 直接比较（不按时间折算）、dated 按节点';
