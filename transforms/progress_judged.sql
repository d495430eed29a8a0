-- Input of kpi.progress: for each target, the figure it is judged on and the months reported on
-- the as-of date. Of the periods held that day (progress_observations.sql, included below: the
-- one definition of what was held), the one judged is the latest that carries what the target's
-- kind is judged on (a later note-only row does not; if no period does, the latest); for a
-- milestone or a qualitative target, the first period reported done wins (a completion stays a
-- completion even if a later row repeats an older step). One row per target, not per period: a
-- province's ~170,000 periods were most of its progress step as Python dicts (BENCHMARKS.md).
-- Parameters: those of progress_observations.sql ($plan_codes, $years, $as_of), and the
-- catalogues' targets as three lists: $target_plans, $target_codes, $target_kinds.
with held as (
-- include: progress_observations.sql
),

targets as (
    select
        unnest($target_plans::varchar[]) as plan_code,
        unnest($target_codes::varchar[]) as target_code,
        unnest($target_kinds::varchar[]) as kind
),

judged as (
    select
        c.*,
        t.kind in ('milestone', 'qualitative') and c.milestone_status = 'done' as done,
        case
            when t.kind = 'growth_rate'
                then c.growth_pct is not null and not isnan(c.growth_pct)
                or c.value is not null and not isnan(c.value)
                and c.prior_value is not null and not isnan(c.prior_value)
            when t.kind = 'relative'
                then (
                    c.growth_pct is not null and not isnan(c.growth_pct)
                    or c.value is not null and not isnan(c.value)
                )
                and c.reference_value is not null and not isnan(c.reference_value)
            when t.kind in ('milestone', 'qualitative') then c.milestone_status is not null
            else c.value is not null and not isnan(c.value)
        end as usable
    from held as c
    inner join targets as t
        on c.plan_code = t.plan_code and c.target_code = t.target_code
),

-- The row judged has the smallest rank: a done milestone by its month (the first), else a
-- usable period, else any, the latest first.
ranked as (
    select
        *,
        case
            when done then period_month
            when usable then 100 - period_month
            else 200 - period_month
        end as rank_key
    from judged
),

judged_rows as (
    select
        plan_code,
        target_code,
        -- the whole row as one value: arg_min of a single column skips the rows where that
        -- column is null, which would mix the columns of different periods
        arg_min(
            {
                'period': period,
                'period_month': period_month,
                'period_start_month': period_start_month,
                'value': value,
                'growth_pct': growth_pct,
                'prior_value': prior_value,
                'reference_value': reference_value,
                'milestone_status': milestone_status,
                'completion_date': completion_date,
                'obs_id': obs_id,
                'received_at': received_at
            },
            rank_key
        ) as judged,
        -- the months reported, as bits (1 << month): a number is cheaper to fetch than a list
        bit_or(1::bigint << period_month) as reported_months
    from ranked
    group by plan_code, target_code
),

final as (
    select
        plan_code,
        target_code,
        judged.*,
        reported_months
    from judged_rows
)

select * from final
order by plan_code, target_code
