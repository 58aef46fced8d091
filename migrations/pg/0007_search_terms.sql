-- pg/0007_search_terms.sql -- the PostgreSQL side of SQLite's 0007 (two-
-- character queries through SQLite's trigram index, its vocabulary table
-- and an end mark on indexed texts). PostgreSQL needs none of it: pg_trgm's
-- indexes (0006) answer ILIKE for queries of any length. This step exists
-- so that one schema number means the same on both backends (docs/
-- cluster.md), which `chorus copy` relies on. Never edit this file once
-- shipped.
SELECT 1;
