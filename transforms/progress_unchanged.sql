-- True when the progress rows just computed (progress_rows) and the time profile (profile_rows)
-- equal what mart.progress and mart.time_profile hold for these plans and as-of date, computed_at
-- aside: the run then writes nothing (set operations compare nulls as equal).
with stored as (
    select plan_code, as_of, target_code, name_zh, kind, department_code, headline, firmness,
           unit, target_value, actual, expected, completion_rate, time_progress, gap_pp,
           projection, status, data_status, outlook, latest_period, computed, days_overdue,
           detail_zh, latest_received_at
    from mart.progress
    where plan_code in (select unnest($plan_codes::varchar[])) and as_of = $as_of
),
fresh as (
    select plan_code, as_of, target_code, name_zh, kind, department_code, headline, firmness,
           unit, target_value, actual, expected, completion_rate, time_progress, gap_pp,
           projection, status, data_status, outlook, latest_period, computed, days_overdue,
           detail_zh, latest_received_at
    from progress_rows
),
stored_profile as (
    select plan_code, target_code, month, share, basis
    from mart.time_profile
    where plan_code in (select unnest($plan_codes::varchar[]))
),
fresh_profile as (
    select plan_code, target_code, month, share, basis from profile_rows
)
select (select count(*) from stored) = (select count(*) from fresh)
   and not exists (select * from (select * from fresh except all select * from stored))
   and (select count(*) from stored_profile) = (select count(*) from fresh_profile)
   and not exists (
       select * from (select * from fresh_profile except all select * from stored_profile)
   )
