-- Whether a table exists (mart.progress arrives with a later migration than the alerts).
select count(*) > 0 as present
from information_schema.tables
where table_schema = $schema
  and table_name = $table
