insert into raw.submissions by name
select * from new_submission
