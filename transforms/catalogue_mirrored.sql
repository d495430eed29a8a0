-- Each of the given plans mirrored in ref.*: the content hash of its catalogue and how many
-- targets it has (a province's run asks about its own plan, not the other 149).
select p.plan_code, p.catalogue_sha, count(t.code) as targets
from ref.plans p
left join ref.targets t on t.plan_code = p.plan_code
where p.plan_code in (select unnest($plan_codes::varchar[]))
group by p.plan_code, p.catalogue_sha
