-- Each plan mirrored in ref.*: the content hash of its catalogue and how many targets it has.
select p.plan_code, p.catalogue_sha, count(t.code) as targets
from ref.plans p
left join ref.targets t on t.plan_code = p.plan_code
group by p.plan_code, p.catalogue_sha
