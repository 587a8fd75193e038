-- 0004: watched folders (issue 14): folders of this device whose media are
-- added to the household at every start (new files added, files already
-- added skipped by path, size and mtime through the sources table).
CREATE TABLE watched_folders (
    path     TEXT PRIMARY KEY CHECK (length(path) BETWEEN 1 AND 4096),
    added_at INTEGER NOT NULL
) WITHOUT ROWID;
