-- 0001: the device library index.
CREATE TABLE titles (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL DEFAULT '',
    artist     TEXT NOT NULL DEFAULT '',
    media_type TEXT NOT NULL DEFAULT '',
    content_id TEXT NOT NULL DEFAULT '',
    size       INTEGER NOT NULL DEFAULT 0,
    added_at   INTEGER NOT NULL
);
CREATE INDEX titles_name ON titles(name COLLATE NOCASE, id);
CREATE INDEX titles_artist ON titles(artist COLLATE NOCASE, name COLLATE NOCASE, id);
CREATE INDEX titles_added ON titles(added_at, id);
CREATE INDEX titles_size ON titles(size, id);
CREATE INDEX titles_content ON titles(content_id);

CREATE TABLE content (
    content_id TEXT PRIMARY KEY,
    manifest   BLOB NOT NULL,
    num_chunks INTEGER NOT NULL,
    file_size  INTEGER NOT NULL,
    complete   INTEGER NOT NULL DEFAULT 0,
    bitmap     BLOB NOT NULL,
    have       INTEGER NOT NULL DEFAULT 0,
    updated_at INTEGER NOT NULL
);
CREATE INDEX content_complete ON content(complete);

CREATE TABLE licenses (
    content_id TEXT PRIMARY KEY,
    license    BLOB NOT NULL,
    stored_at  INTEGER NOT NULL
);

CREATE TABLE positions (
    title_id    TEXT PRIMARY KEY,
    position_ms INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

-- title_id '' is the default policy.
CREATE TABLE policies (
    title_id TEXT PRIMARY KEY,
    policy   TEXT NOT NULL
);

CREATE TABLE ledger (
    peer       TEXT NOT NULL,
    content_id TEXT NOT NULL,
    direction  TEXT NOT NULL CHECK (direction IN ('up', 'down')),
    bytes      INTEGER NOT NULL DEFAULT 0,
    requests   INTEGER NOT NULL DEFAULT 0,
    first_at   INTEGER NOT NULL,
    last_at    INTEGER NOT NULL,
    PRIMARY KEY (peer, content_id, direction)
);
CREATE INDEX ledger_last ON ledger(last_at);
CREATE INDEX ledger_content ON ledger(content_id, direction);
