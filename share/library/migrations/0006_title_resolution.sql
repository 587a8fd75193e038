-- 0006 (issue 17): a video title's width and height in pixels (0 = unknown
-- or audio), so the Library can show its resolution beside its length.
ALTER TABLE titles ADD COLUMN width  INTEGER NOT NULL DEFAULT 0;
ALTER TABLE titles ADD COLUMN height INTEGER NOT NULL DEFAULT 0;
