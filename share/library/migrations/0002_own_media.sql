-- 0002: a household's own media (issue 14): tags on titles, artwork
-- thumbnails, and the files this device added (so adding one twice gives
-- the same title).
ALTER TABLE titles ADD COLUMN album        TEXT NOT NULL DEFAULT '';
ALTER TABLE titles ADD COLUMN album_artist TEXT NOT NULL DEFAULT '';
ALTER TABLE titles ADD COLUMN genre        TEXT NOT NULL DEFAULT '';
ALTER TABLE titles ADD COLUMN track        INTEGER NOT NULL DEFAULT 0;
ALTER TABLE titles ADD COLUMN disc         INTEGER NOT NULL DEFAULT 0;
ALTER TABLE titles ADD COLUMN year         INTEGER NOT NULL DEFAULT 0;
ALTER TABLE titles ADD COLUMN duration_ms  INTEGER NOT NULL DEFAULT 0;
CREATE INDEX titles_album ON titles(album_artist COLLATE NOCASE, album COLLATE NOCASE, disc, track, id);

CREATE TABLE artwork (
    title_id TEXT PRIMARY KEY,
    jpeg     BLOB NOT NULL CHECK (length(jpeg) <= 262144)
);

-- One row per file added from this device: its path, size and
-- modification time as last seen, and the SHA-256 of its bytes.
CREATE TABLE sources (
    path     TEXT PRIMARY KEY,
    size     INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    sha256   BLOB NOT NULL,
    title_id TEXT NOT NULL,
    added_at INTEGER NOT NULL
);
CREATE INDEX sources_sha256 ON sources(sha256);
