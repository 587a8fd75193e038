-- 0003: titles published from a household's own devices (issue 14). Tags
-- the catalog shows (album, track order, artwork), who published a title
-- and who may see it: household titles are listed only to the publishing
-- account's devices.
ALTER TABLE titles ADD COLUMN album        TEXT NOT NULL DEFAULT '';
ALTER TABLE titles ADD COLUMN album_artist TEXT NOT NULL DEFAULT '';
ALTER TABLE titles ADD COLUMN genre        TEXT NOT NULL DEFAULT '';
ALTER TABLE titles ADD COLUMN track        INTEGER NOT NULL DEFAULT 0;
ALTER TABLE titles ADD COLUMN disc         INTEGER NOT NULL DEFAULT 0;
ALTER TABLE titles ADD COLUMN year         INTEGER NOT NULL DEFAULT 0;
ALTER TABLE titles ADD COLUMN duration_ms  INTEGER NOT NULL DEFAULT 0;
ALTER TABLE titles ADD COLUMN owner        TEXT NOT NULL DEFAULT '';        -- publishing account; '' = the operator
ALTER TABLE titles ADD COLUMN publisher    TEXT NOT NULL DEFAULT '';        -- publishing device ID; '' = the operator
ALTER TABLE titles ADD COLUMN visibility   TEXT NOT NULL DEFAULT 'public'
	CHECK (visibility IN ('public', 'household'));
CREATE INDEX titles_owner ON titles(owner) WHERE visibility = 'household';

-- Artwork thumbnails (JPEG, at most 256 KiB), one per title that has one.
CREATE TABLE artwork (
	title TEXT PRIMARY KEY REFERENCES titles(id),
	jpeg  BLOB NOT NULL CHECK (length(jpeg) <= 262144)
);
