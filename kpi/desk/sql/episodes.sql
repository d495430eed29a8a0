-- Open alert episodes of a plan with their 13710 state, oldest first (the board's list).
select
    e.episode_id,
    e.target_code,
    e.department_code,
    coalesce(d.short_zh, e.department_code) as department_zh,
    e.name_zh,
    e.major,
    e.status,
    e.state,
    e.opened_on,
    e.acked_at,
    e.ack_note,
    e.feedback_at,
    e.feedback_text,
    e.reminded_at,
    e.escalated_at,
    e.escalated_again_at,
    e.snapshot
from alerts.episodes as e
left join ref.departments as d
    on d.plan_code = e.plan_code and d.code = e.department_code
where e.plan_code = $plan_code
  and e.state = 'open'
order by e.opened_on, e.episode_id
