-- The episodes `kpi alerts` lists: open ones (closed ones too when asked), with the department.
select
    e.*,
    d.short_zh as department_zh
from alerts.episodes as e
left join ref.departments as d
    on d.plan_code = e.plan_code and d.code = e.department_code
where e.plan_code = $plan_code
  and (e.state = 'open' or $include_closed)
order by e.episode_id
