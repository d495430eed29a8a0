-- How many runs there are besides this one, and how the run a report stamp names ended.
select (select count(*) from meta.runs where run_id <> $run_id) as others,
       (select status from meta.runs where run_id = $stamp_run_id) as stamp_status
