-- 0006 (issue 12): nothing on SQLite. PostgreSQL's 0006 adds the change
-- feed and the replay rows that instances sharing one database need; an
-- embedded database has one instance, which keeps both in memory.
SELECT 1;
