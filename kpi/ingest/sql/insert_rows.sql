insert into raw.submission_rows by name
select * from new_rows
