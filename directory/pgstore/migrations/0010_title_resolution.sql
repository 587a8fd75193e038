-- 0010 (issue 17): a video title's width and height in pixels (0 = unknown
-- or audio), so the catalog and Store can show its resolution.
ALTER TABLE titles ADD COLUMN width  INTEGER NOT NULL DEFAULT 0;
ALTER TABLE titles ADD COLUMN height INTEGER NOT NULL DEFAULT 0;
