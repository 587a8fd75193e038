-- 0003: playlists (issue 14), kept on the device: a name and an ordered
-- list of title IDs (a title not yet downloaded fetches when played).
CREATE TABLE playlists (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 800),
    created_at INTEGER NOT NULL
);

CREATE TABLE playlist_items (
    playlist INTEGER NOT NULL,
    pos      INTEGER NOT NULL,
    title_id TEXT NOT NULL,
    PRIMARY KEY (playlist, pos)
) WITHOUT ROWID;
