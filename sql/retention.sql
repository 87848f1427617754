-- Retention policies: explicit ttl > scope policy > idempotency.default_ttl.
SELECT idempotency.set_retention('short', '10 minutes');
SELECT scope, ttl, redate_pending FROM idempotency.retention_policies ORDER BY scope;
SELECT idempotency.claim_guard('short', 'a');                       -- policy
SELECT idempotency.claim_guard('short', 'b', ttl => '2 hours');     -- explicit wins
SELECT idempotency.claim_guard('other', 'c');                       -- default
SELECT scope, key, expires_at - claimed_at AS ttl FROM idempotency.guards
 WHERE scope IN ('short', 'other') ORDER BY scope, key;
-- Replacing a policy affects new claims only...
SELECT idempotency.set_retention('short', '20 minutes');
SELECT idempotency.claim_guard('short', 'd');
SELECT key, expires_at - claimed_at AS ttl FROM idempotency.guards WHERE scope = 'short' ORDER BY key;
-- ...unless apply_to_existing re-dates the scope's live guards (explicit ttls too).
SELECT idempotency.set_retention('short', '30 minutes', apply_to_existing => true);
SELECT key, expires_at - claimed_at AS ttl FROM idempotency.guards WHERE scope = 'short' ORDER BY key;
-- This database has no purge worker, so the re-dating happened in this call.
SELECT scope, redate_pending FROM idempotency.retention_policies WHERE scope = 'short';
-- Other scopes are untouched.
SELECT expires_at - claimed_at AS ttl FROM idempotency.guards WHERE scope = 'other';
-- Shortening below a guard's age expires it at once.
SELECT idempotency.claim_guard('aging', 'old');
SELECT pg_sleep(0.2);
SELECT idempotency.set_retention('aging', '0.1 seconds', apply_to_existing => true);
SELECT count(*) AS visible FROM idempotency.lookup('aging', 'old');
SELECT idempotency.claim_guard('aging', 'old') AS claimable_again;
-- A takeover of an expired guard uses the policy too.
SELECT expires_at - claimed_at AS ttl FROM idempotency.guards WHERE scope = 'aging';
-- drop_retention: back to the default.
SELECT idempotency.drop_retention('short') AS dropped;
SELECT idempotency.drop_retention('short') AS dropped_again;
SELECT idempotency.claim_guard('short', 'e');
SELECT expires_at - claimed_at AS ttl FROM idempotency.guards WHERE key = 'e';
-- Bad input, with the core API's SQLSTATEs; nothing written.
\set VERBOSITY sqlstate
SELECT idempotency.set_retention(NULL, '1 hour');
SELECT idempotency.set_retention('s', NULL);
SELECT idempotency.set_retention('s', '1 hour', NULL);
SELECT idempotency.set_retention('', '1 hour');
SELECT idempotency.set_retention(repeat('s', 256), '1 hour');
SELECT idempotency.set_retention('s', '0');
SELECT idempotency.set_retention('s', '-1 day');
SELECT idempotency.drop_retention(NULL);
SELECT idempotency.drop_retention('');
\set VERBOSITY default
SELECT count(*) FROM idempotency.retention_policies WHERE scope = 's';
SELECT idempotency.set_retention('s', '-1 day');
