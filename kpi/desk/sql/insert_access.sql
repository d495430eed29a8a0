-- Buffered access records into meta.access; a record flushed twice (after a crash) is ignored.
insert or ignore into meta.access by name
select * from access_rows
