insert into staged.rejections by name
select * from new_rejections
