-- Retry-safe claims: a claim retried by the attempt that made it (its answer
-- was lost) gets its pending guard back, with the same claim token; anyone
-- else still finds the key taken.
\set a1 '''7d3f0b52-attempt-one-0000000001'''
\set a2 '''7d3f0b52-attempt-two-0000000002'''

-- The first try: claimed, with a token.
SELECT claimed, status FROM idempotency.claim_or_lookup('attempts', 'k1', attempt => :a1);
SELECT claim_token AS token FROM idempotency.guards WHERE scope = 'attempts' AND key = 'k1' \gset
-- The same attempt retries: claimed again, the same token, the same times.
SELECT c.claimed, c.claim_token = :token AS same_token, c.status, c.outcome,
       c.claimed_at = g.claimed_at AS same_claimed_at, c.expires_at = g.expires_at AS same_expiry
  FROM idempotency.claim_or_lookup('attempts', 'k1', attempt => :a1) AS c,
       idempotency.guards AS g WHERE g.scope = 'attempts' AND g.key = 'k1';
SELECT idempotency.claim_guard('attempts', 'k1', attempt => :a1) AS claim_guard_retry;
-- Another attempt, or none, finds it taken.
SELECT claimed, claim_token, status
  FROM idempotency.claim_or_lookup('attempts', 'k1', attempt => :a2);
SELECT idempotency.claim_guard('attempts', 'k1') AS no_attempt;
-- The table stores the attempt's sha256, never the id itself.
SELECT attempt_digest = sha256(convert_to(:a1, 'UTF8')) AS digest_stored
  FROM idempotency.guards WHERE scope = 'attempts' AND key = 'k1';
-- Still one guard, and the token the retry got records the outcome.
SELECT count(*) AS guards FROM idempotency.guards WHERE scope = 'attempts';
SELECT idempotency.record_outcome('attempts', 'k1', 'succeeded', '{"charge": "ch_1"}', :token);
-- Completed: the side effect is done, so the attempt is answered as any retry
-- (the outcome to replay, no token).
SELECT claimed, claim_token, status, outcome
  FROM idempotency.claim_or_lookup('attempts', 'k1', attempt => :a1);
SELECT idempotency.claim_guard('attempts', 'k1', attempt => :a1) AS after_outcome;

-- Released: the key is free, so the attempt claims it anew, with a new token.
SELECT claim_token AS token FROM idempotency.claim_or_lookup('attempts', 'k2', attempt => :a1) \gset
SELECT idempotency.release_guard('attempts', 'k2', :token);
SELECT claimed, claim_token <> :token AS new_token
  FROM idempotency.claim_or_lookup('attempts', 'k2', attempt => :a1);

-- Taken over by someone else after the lease ran out: the attempt is not the
-- owner any more and gets no token; the old token is fenced off.
SELECT claim_token AS token
  FROM idempotency.claim_or_lookup('attempts', 'k3', lease => '1 hour', attempt => :a1) \gset
UPDATE idempotency.guards SET lease_expires_at = clock_timestamp() - interval '1 second'
 WHERE scope = 'attempts' AND key = 'k3';
SELECT claimed, claim_token <> :token AS new_token
  FROM idempotency.claim_or_lookup('attempts', 'k3', attempt => :a2);
SELECT claimed, claim_token, status
  FROM idempotency.claim_or_lookup('attempts', 'k3', attempt => :a1);
SELECT idempotency.record_outcome('attempts', 'k3', 'succeeded', NULL, :token);
-- Its own lease ran out: the attempt takes the guard over as any claimer
-- would, with a new token.
UPDATE idempotency.guards SET lease_expires_at = clock_timestamp() - interval '1 second'
 WHERE scope = 'attempts' AND key = 'k3';
SELECT claim_token AS token FROM idempotency.guards WHERE scope = 'attempts' AND key = 'k3' \gset
SELECT claimed, claim_token <> :token AS new_token
  FROM idempotency.claim_or_lookup('attempts', 'k3', lease => '1 hour', attempt => :a2);
-- A retry with a lease restarts the lease from now (the owner is alive);
-- without one it leaves it alone.
UPDATE idempotency.guards SET lease_expires_at = clock_timestamp() + interval '1 second'
 WHERE scope = 'attempts' AND key = 'k3';
SELECT claimed FROM idempotency.claim_or_lookup('attempts', 'k3', attempt => :a2);
SELECT lease_expires_at < clock_timestamp() + interval '1 minute' AS lease_untouched
  FROM idempotency.guards WHERE scope = 'attempts' AND key = 'k3';
SELECT claimed FROM idempotency.claim_or_lookup('attempts', 'k3', lease => '1 hour', attempt => :a2);
SELECT lease_expires_at > clock_timestamp() + interval '59 minutes' AS lease_restarted
  FROM idempotency.guards WHERE scope = 'attempts' AND key = 'k3';

-- Expired: claimable by anyone, the attempt included, with a new token.
SELECT claim_token AS token
  FROM idempotency.claim_or_lookup('attempts', 'k4', ttl => '1 hour', attempt => :a1) \gset
UPDATE idempotency.guards SET expires_at = clock_timestamp() - interval '1 second'
 WHERE scope = 'attempts' AND key = 'k4';
SELECT claimed, claim_token <> :token AS new_token
  FROM idempotency.claim_or_lookup('attempts', 'k4', attempt => :a1);

-- A retry with another request's fingerprint is still IK001.
SELECT claimed FROM idempotency.claim_or_lookup('attempts', 'k5', fingerprint => 'fp-a', attempt => :a1);
\set VERBOSITY sqlstate
SELECT claimed FROM idempotency.claim_or_lookup('attempts', 'k5', fingerprint => 'fp-b', attempt => :a1);
\set VERBOSITY default
SELECT claimed FROM idempotency.claim_or_lookup('attempts', 'k5', fingerprint => 'fp-a', attempt => :a1);

-- An attempt id is 16 to 255 bytes (22023); NULL is no attempt.
SELECT idempotency.claim_guard('attempts', 'k6', attempt => 'short-id');
SELECT idempotency.claim_guard('attempts', 'k6', attempt => repeat('x', 256));
SELECT * FROM idempotency.claim_guards('attempts', ARRAY['k6'], attempt => '123456789012345');
-- Nothing was written by the refused claims.
SELECT count(*) AS refused_claims_wrote FROM idempotency.guards WHERE key = 'k6';
SELECT idempotency.claim_guard('attempts', 'k6', attempt => repeat('x', 16)) AS sixteen_bytes;
SELECT idempotency.claim_guard('attempts', 'k7', attempt => NULL) AS null_attempt;
SELECT attempt_digest IS NULL AS no_digest FROM idempotency.guards WHERE key = 'k7';

-- claim_guards: one attempt for the whole batch. Its retry gets back every
-- key it claimed, with the same tokens; keys that were taken stay taken; a
-- key given twice is still claimed once.
SELECT idempotency.claim_guard('attempts', 'b2');
SELECT ord, key, claimed, status
  FROM idempotency.claim_guards('attempts', ARRAY['b1', 'b2', 'b3', 'b1'], attempt => :a1);
CREATE TEMP TABLE first_tokens AS
  SELECT key, claim_token FROM idempotency.guards WHERE scope = 'attempts' AND key LIKE 'b%';
SELECT r.ord, r.key, r.claimed, r.claim_token = f.claim_token AS same_token
  FROM idempotency.claim_guards('attempts', ARRAY['b1', 'b2', 'b3', 'b1'], attempt => :a1) AS r
  JOIN first_tokens AS f USING (key) ORDER BY r.ord;
SELECT ord, key, claimed, claim_token
  FROM idempotency.claim_guards('attempts', ARRAY['b1', 'b3'], attempt => :a2);

-- The SQL path (idempotency.direct_access = off) does the same.
SET idempotency.direct_access = off;
SELECT claim_token AS token FROM idempotency.claim_or_lookup('attempts', 's1', attempt => :a1) \gset
SELECT attempt_digest = sha256(convert_to(:a1, 'UTF8')) AS digest_stored
  FROM idempotency.guards WHERE scope = 'attempts' AND key = 's1';
SELECT claimed, claim_token = :token AS same_token
  FROM idempotency.claim_or_lookup('attempts', 's1', attempt => :a1);
SELECT claimed, claim_token FROM idempotency.claim_or_lookup('attempts', 's1', attempt => :a2);
-- A takeover through SQL stores the new attempt.
UPDATE idempotency.guards SET lease_expires_at = clock_timestamp() - interval '1 second'
 WHERE scope = 'attempts' AND key = 's1';
SELECT claimed, claim_token <> :token AS new_token
  FROM idempotency.claim_or_lookup('attempts', 's1', attempt => :a2);
SELECT attempt_digest = sha256(convert_to(:a2, 'UTF8')) AS new_digest_stored
  FROM idempotency.guards WHERE scope = 'attempts' AND key = 's1';
SELECT claimed FROM idempotency.claim_or_lookup('attempts', 's1', attempt => :a2) AS retried;
SELECT claimed FROM idempotency.claim_or_lookup('attempts', 's1', attempt => :a1) AS former_owner;
RESET idempotency.direct_access;
-- And a guard claimed through SQL is recognised by the direct path.
SELECT claimed FROM idempotency.claim_or_lookup('attempts', 's1', attempt => :a2) AS direct_retry;

-- A table without the attempt_digest column (a DBA dropped it): a claim with
-- an attempt is 55000, one without works. The column is found by name, so
-- adding it back (after the dropped one) brings attempts back. Rolled back.
BEGIN;
ALTER TABLE idempotency.guards DROP COLUMN attempt_digest;
SELECT idempotency.claim_guard('attempts', 'd1') AS without_attempt;
SAVEPOINT dropped;
SELECT idempotency.claim_guard('attempts', 'd1', attempt => :a1);
ROLLBACK TO SAVEPOINT dropped;
ALTER TABLE idempotency.guards ADD COLUMN attempt_digest bytea;
SELECT idempotency.claim_guard('attempts', 'd2', attempt => :a1) AS column_added_back,
       idempotency.claim_guard('attempts', 'd2', attempt => :a1) AS retried;
SELECT attempt_digest = sha256(convert_to(:a1, 'UTF8')) AS digest_stored
  FROM idempotency.guards WHERE scope = 'attempts' AND key = 'd2';
ROLLBACK;

DELETE FROM idempotency.guards WHERE scope = 'attempts';
