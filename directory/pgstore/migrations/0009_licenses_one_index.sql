-- 0009 (issue 12): licenses_purchase_device (purchase, device) serves every
-- query by purchase; licenses_purchase (purchase) only cost each license
-- insert one more random index page in its commit.
DROP INDEX licenses_purchase;
