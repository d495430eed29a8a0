-- A pipeline run begins. A retried Prefect flow run keeps its id, so a second start resets the row.
insert into meta.runs (run_id, plan_code, flow, as_of, started_at, run_at, status)
values ($run_id, $plan_code, $flow, $as_of, $started_at, $run_at, 'running')
on conflict (run_id) do update set
    plan_code = excluded.plan_code,
    flow = excluded.flow,
    as_of = excluded.as_of,
    started_at = excluded.started_at,
    run_at = excluded.run_at,
    finished_at = null,
    status = 'running'
