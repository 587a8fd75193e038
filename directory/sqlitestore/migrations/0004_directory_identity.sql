-- 0004: the directory identity this database belongs to (issue 12). The
-- first start records its key's ID; every later start, of this or of any
-- instance sharing the database, checks that its key file is that key.
CREATE TABLE directory_identity (
	singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
	id        TEXT NOT NULL,              -- identity.ID of the directory key
	bound     INTEGER NOT NULL            -- when it was recorded
);
