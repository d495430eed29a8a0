-- Whether a table exists (a snapshot published before a migration lacks its tables).
select count(*) > 0 as present
from duckdb_tables()
where schema_name = $schema and table_name = $table
