-- Expiry is exact: past expires_at a guard is invisible and claimable, even
-- though no purge has deleted it.
SELECT idempotency.claim_guard('payments', 'e-1', ttl => '1 second');
SELECT idempotency.record_outcome('payments', 'e-1', 'succeeded', '{"first": true}');
SELECT idempotency.claim_guard('payments', 'e-1') AS live_still_blocks;
SELECT pg_sleep(1.1);
SELECT count(*) AS visible FROM idempotency.lookup('payments', 'e-1');
SELECT count(*) AS still_stored FROM idempotency.guards WHERE key = 'e-1';
-- Recording against an expired guard: IK002.
SELECT idempotency.record_outcome('payments', 'e-1', 'succeeded', '{"first": true}');
-- Releasing an expired guard: nothing to release.
SELECT idempotency.release_guard('payments', 'e-1') AS released;
-- The next claim takes it over as a fresh pending guard with a new token.
SELECT claim_token AS old_token FROM idempotency.guards WHERE key = 'e-1' \gset
SELECT claimed, status, outcome FROM idempotency.claim_or_lookup('payments', 'e-1');
SELECT status, outcome, completed_at, claim_token <> :old_token AS new_token
  FROM idempotency.guards WHERE key = 'e-1';
-- Expiry is read from the clock at each call, not the transaction start: a
-- guard that expires inside a long transaction is claimable in it.
BEGIN;
SELECT idempotency.claim_guard('payments', 'e-2', ttl => '0.3 seconds');
SELECT pg_sleep(0.4);
SELECT idempotency.claim_guard('payments', 'e-2') AS claimable_in_same_transaction;
COMMIT;
