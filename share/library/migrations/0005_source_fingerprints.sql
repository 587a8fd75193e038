-- 0005: adding a file no longer hashes all of its bytes (issue 14: the
-- whole-file SHA-256 was a fifth of the CPU an add took). A file added from
-- now on is recorded with a fingerprint of its size and its first and last
-- 64 KiB (library.Fingerprint); the fingerprint only finds candidates, and
-- a candidate is the same file only once its bytes compare equal
-- (share.Node.AddFile). Files added before keep their SHA-256 and have no
-- fingerprint: they are candidates by size.
CREATE TABLE sources_new (
    path        TEXT PRIMARY KEY,
    size        INTEGER NOT NULL,
    mtime_ns    INTEGER NOT NULL,
    fingerprint BLOB CHECK (fingerprint IS NULL OR length(fingerprint) = 32),
    sha256      BLOB CHECK (sha256 IS NULL OR length(sha256) = 32),
    title_id    TEXT NOT NULL,
    added_at    INTEGER NOT NULL
);
INSERT INTO sources_new(path, size, mtime_ns, fingerprint, sha256, title_id, added_at)
    SELECT path, size, mtime_ns, NULL, sha256, title_id, added_at FROM sources;
DROP TABLE sources;
ALTER TABLE sources_new RENAME TO sources;
CREATE INDEX sources_size ON sources(size, fingerprint);
