-- Point in time: each judged figure carries when it was received, so that anyone reading a
-- day's progress can check it used only what had arrived by the end of that day.
alter table mart.progress add column if not exists latest_received_at timestamp;

comment on column mart.progress.latest_received_at is '所用最新数据的收到时间（不晚于截至日期当天）';
