-- 0007 (issue 12): the license as issued, so the same registration (its
-- nonce) sent again, to any instance, gets the same license back.
ALTER TABLE licenses ADD COLUMN license BLOB NOT NULL DEFAULT x'';
CREATE INDEX licenses_purchase_device ON licenses(purchase, device);
