-- claim_guards(): many keys of one scope in one call, answered in input order
-- as claim_or_lookup() would answer each in the same transaction.
SELECT ord, key, claimed, claim_token IS NOT NULL AS has_token, status
  FROM idempotency.claim_guards('queue', ARRAY['m-3', 'm-1', 'm-2']);
SELECT key, status FROM idempotency.guards WHERE scope = 'queue' ORDER BY key;
-- A redelivered batch: the claimed keys answer as retries, new ones claim.
SELECT idempotency.record_outcome('queue', 'm-1', 'succeeded', '{"done": 1}');
SELECT ord, key, claimed, status, outcome
  FROM idempotency.claim_guards('queue', ARRAY['m-1', 'm-4', 'm-2']);
-- The same key twice in one batch: the first claims, the later answers as a
-- retry (claimed = false), and one guard is written.
SELECT ord, key, claimed, claim_token IS NOT NULL AS has_token, status
  FROM idempotency.claim_guards('queue', ARRAY['d-1', 'd-2', 'd-1', 'd-1']);
SELECT count(*) AS d1_guards FROM idempotency.guards WHERE key = 'd-1';
-- The tokens claimed are the guards' tokens.
CREATE TEMP TABLE answers AS SELECT * FROM idempotency.claim_guards('queue', ARRAY['t-1', 't-2']);
SELECT a.key, a.claim_token = g.claim_token AS token_matches
  FROM answers AS a JOIN idempotency.guards AS g ON g.scope = 'queue' AND g.key = a.key
 ORDER BY a.ord;
-- The same answers as one claim_or_lookup() per key.
BEGIN;
SELECT claimed, status FROM idempotency.claim_or_lookup('queue', 'm-1');
SELECT claimed, status FROM idempotency.claim_or_lookup('queue', 'm-5');
ROLLBACK;
SELECT ord, claimed, status FROM idempotency.claim_guards('queue', ARRAY['m-1', 'm-5']);
-- Expiry and takeover: an expired guard is claimed again.
SELECT claimed FROM idempotency.claim_guards('queue', ARRAY['e-1'], ttl => '0.2 s');
SELECT pg_sleep(0.3);
SELECT ord, claimed FROM idempotency.claim_guards('queue', ARRAY['e-1', 'e-2']);
-- Leases: a pending guard whose lease ran out is taken over.
SELECT claimed FROM idempotency.claim_guards('queue', ARRAY['l-1'], lease => '0.1 s');
SELECT pg_sleep(0.2);
SELECT claimed FROM idempotency.claim_guards('queue', ARRAY['l-1']) AS taken_over;
SELECT lease_expires_at IS NULL AS no_lease FROM idempotency.guards WHERE key = 'l-1';
-- ttl and lease apply to every key of the batch.
SELECT count(*) AS claimed FROM idempotency.claim_guards('queue', ARRAY['x-1', 'x-2'],
                                                          ttl => '1 hour', lease => '1 minute');
SELECT key, expires_at - claimed_at AS ttl, lease_expires_at - claimed_at AS lease
  FROM idempotency.guards WHERE scope = 'queue' AND key LIKE 'x-%' ORDER BY key;
-- Fingerprints: one per key, NULL for none; a different request under a live
-- key is IK001 naming that key, and the whole batch claims nothing.
SELECT ord, claimed FROM idempotency.claim_guards('queue', ARRAY['f-1', 'f-2'],
                                                  fingerprints => ARRAY['sha256:a', NULL]);
\set VERBOSITY sqlstate
SELECT idempotency.claim_guards('queue', ARRAY['f-3', 'f-1'],
                                fingerprints => ARRAY['sha256:c', 'sha256:b']);
\set VERBOSITY default
-- (The detail holds when the live guard was claimed: checked, not printed.)
DO $$
DECLARE
  detail text;
BEGIN
  PERFORM idempotency.claim_guards('queue', ARRAY['f-1'], fingerprints => ARRAY['sha256:b']);
EXCEPTION WHEN SQLSTATE 'IK001' THEN
  GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
  RAISE NOTICE 'IK001 names the key: %', detail LIKE '%scope "queue", key "f-1" was claimed at %';
END $$;
SELECT count(*) AS f3_guards FROM idempotency.guards WHERE key = 'f-3';
SELECT ord, claimed FROM idempotency.claim_guards('queue', ARRAY['f-1', 'f-2'],
                                                  fingerprints => ARRAY['sha256:a', 'sha256:z']);
-- Bad input: a clear error with a documented SQLSTATE, and nothing claimed.
\set VERBOSITY sqlstate
SELECT idempotency.claim_guards('queue', NULL);
SELECT idempotency.claim_guards('queue', ARRAY['b-1', NULL]);
SELECT idempotency.claim_guards('queue', ARRAY['b-1', '']);
SELECT idempotency.claim_guards('queue', ARRAY['b-1', repeat('k', 256)]);
SELECT idempotency.claim_guards(NULL, ARRAY['b-1']);
SELECT idempotency.claim_guards('queue', ARRAY[['b-1', 'b-2'], ['b-3', 'b-4']]);
SELECT idempotency.claim_guards('queue', ARRAY['b-1', 'b-2'], fingerprints => ARRAY['x']);
SELECT idempotency.claim_guards('queue', ARRAY['b-1'], fingerprints => ARRAY[repeat('f', 1025)]);
SELECT idempotency.claim_guards('queue', ARRAY['b-1'], ttl => '-1 s');
SELECT idempotency.claim_guards('queue', ARRAY['b-1'], lease => '0 s');
SELECT idempotency.claim_guards('queue', array_agg('k-' || i)) FROM generate_series(1, 1001) AS i;
\set VERBOSITY default
SELECT count(*) AS bad_input_guards FROM idempotency.guards
 WHERE key LIKE 'b-%' OR key LIKE 'k-%';
-- The limit itself is accepted; an empty batch answers nothing.
SELECT count(*) FILTER (WHERE claimed) AS claimed_at_limit
  FROM idempotency.claim_guards('queue', (SELECT array_agg('k-' || i)
                                            FROM generate_series(1, 1000) AS i));
SELECT count(*) AS empty_batch FROM idempotency.claim_guards('queue', ARRAY[]::text[]);
-- Read-only transactions are refused, as for claim_guard.
BEGIN READ ONLY;
SELECT idempotency.claim_guards('queue', ARRAY['r-1']);
ROLLBACK;
-- Scope restrictions apply, and grant_client covers claim_guards.
CREATE ROLE idem_batch_app LOGIN;
SELECT idempotency.grant_client('idem_batch_app');
SELECT idempotency.restrict_scopes('idem_batch_app', ARRAY['queue']);
SET ROLE idem_batch_app;
SELECT ord, claimed FROM idempotency.claim_guards('queue', ARRAY['s-1']);
SELECT idempotency.claim_guards('billing', ARRAY['s-1']);
RESET ROLE;
SELECT idempotency.unrestrict_scopes('idem_batch_app');
SELECT idempotency.revoke_client('idem_batch_app');
SET ROLE idem_batch_app;
SELECT idempotency.claim_guards('queue', ARRAY['s-2']);
RESET ROLE;
DROP ROLE idem_batch_app;
DELETE FROM idempotency.guards WHERE scope = 'queue';
