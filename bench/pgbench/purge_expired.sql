-- bench/profile: one purge_expired() call over the expired guards loaded
SELECT idempotency.purge_expired();
