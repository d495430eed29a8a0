insert into staged.observations by name
select * from new_obs
