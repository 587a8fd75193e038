-- 0008 (issue 12): the built-in test payment processor's charges, one per
-- idempotency key (a registration's nonce), kept where every instance
-- sharing the database, and an instance restarted after kill -9, sees
-- them: "charged once" holds across instances and crashes, as a real
-- processor's idempotency holds on its side. created: unix milliseconds.
CREATE TABLE test_charges (
    idem_key TEXT PRIMARY KEY,
    token    TEXT NOT NULL,
    brand    TEXT NOT NULL,
    last4    TEXT NOT NULL,
    amount   INTEGER NOT NULL,
    created  INTEGER NOT NULL
);
