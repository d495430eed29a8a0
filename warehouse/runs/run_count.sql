-- How many runs the warehouse has recorded (this one included once started).
select count(*) from meta.runs
