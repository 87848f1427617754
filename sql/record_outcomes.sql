-- record_outcomes(): a claimed batch's outcomes in one call, answered in input
-- order as record_outcome() would answer each key, all or nothing.
SELECT count(*) FILTER (WHERE claimed) AS claimed
  FROM idempotency.claim_guards('outbox', ARRAY['m-1', 'm-2', 'm-3', 'm-4']);
SELECT ord, key, recorded
  FROM idempotency.record_outcomes('outbox', ARRAY['m-3', 'm-1', 'm-2'], 'succeeded',
                                   ARRAY['{"n": 3}', '{"n": 1}', NULL]::jsonb[]);
SELECT key, status, outcome FROM idempotency.guards WHERE scope = 'outbox' ORDER BY key;
-- A retry of the batch: the identical outcomes answer false (JSON compared as
-- values); a key still pending is recorded now.
SELECT ord, key, recorded
  FROM idempotency.record_outcomes('outbox', ARRAY['m-1', 'm-4', 'm-3', 'm-2'], 'succeeded',
                                   ARRAY['{ "n":1 }', '{"n": 4}', '{"n": 3}', NULL]::jsonb[]);
-- The same answers as one record_outcome() per key in one transaction.
BEGIN;
SELECT idempotency.record_outcome('outbox', 'm-1', 'succeeded', '{"n": 1}') AS m1_alone;
ROLLBACK;
-- No outcomes: every key's outcome is NULL; 'failed' applies to the whole batch.
SELECT count(*) FILTER (WHERE claimed) AS claimed
  FROM idempotency.claim_guards('outbox', ARRAY['f-1', 'f-2']);
SELECT ord, key, recorded FROM idempotency.record_outcomes('outbox', ARRAY['f-2', 'f-1'], 'failed');
SELECT key, status, outcome IS NULL AS no_outcome
  FROM idempotency.guards WHERE scope = 'outbox' AND key LIKE 'f-%' ORDER BY key;

-- The same key twice in one batch, as two record_outcome() calls would: the
-- first records, an identical later one answers false...
SELECT count(*) FILTER (WHERE claimed) AS claimed
  FROM idempotency.claim_guards('outbox', ARRAY['d-1', 'd-2', 'd-3']);
SELECT ord, key, recorded
  FROM idempotency.record_outcomes('outbox', ARRAY['d-2', 'd-1', 'd-2'], 'succeeded',
                                   ARRAY['{"n": 2}', '{"n": 1}', '{"n": 2}']::jsonb[]);
-- ...and a different later one is IK003, recording nothing of the batch.
\set VERBOSITY sqlstate
SELECT idempotency.record_outcomes('outbox', ARRAY['d-3', 'd-3'], 'succeeded',
                                   ARRAY['{"n": 3}', '{"n": 33}']::jsonb[]);
\set VERBOSITY default
SELECT status FROM idempotency.lookup('outbox', 'd-3');

-- All or nothing: one key without a live guard (IK002), with a different
-- outcome (IK003) or a stale token (IK004) fails the whole call, naming that
-- key, and the other keys stay pending.
SELECT count(*) FILTER (WHERE claimed) AS claimed
  FROM idempotency.claim_guards('outbox', ARRAY['a-1', 'a-2', 'a-3']);
SELECT idempotency.record_outcomes('outbox', ARRAY['a-1', 'never-claimed', 'a-3'], 'succeeded');
SELECT idempotency.record_outcomes('outbox', ARRAY['a-2', 'm-1', 'a-3'], 'succeeded',
                                   ARRAY['{}', '{"n": 100}', '{}']::jsonb[]);
SELECT idempotency.record_outcomes('outbox', ARRAY['a-1', 'a-2'], 'succeeded',
                                   claim_tokens => ARRAY[NULL, 42]);
SELECT key, status FROM idempotency.lookup('outbox', 'a-1')
UNION ALL SELECT key, status FROM idempotency.lookup('outbox', 'a-2')
UNION ALL SELECT key, status FROM idempotency.lookup('outbox', 'a-3') ORDER BY key;
-- Inside a savepoint the transaction goes on with nothing recorded.
BEGIN;
SAVEPOINT batch;
SELECT idempotency.record_outcomes('outbox', ARRAY['a-1', 'zz-never'], 'failed');
ROLLBACK TO SAVEPOINT batch;
SELECT status FROM idempotency.lookup('outbox', 'a-1');
COMMIT;
-- An expired guard is no live guard either.
SELECT claimed FROM idempotency.claim_guards('outbox', ARRAY['e-1'], ttl => '0.1 s');
SELECT pg_sleep(0.2);
\set VERBOSITY sqlstate
SELECT idempotency.record_outcomes('outbox', ARRAY['e-1'], 'succeeded');
\set VERBOSITY default

-- Fencing tokens, one per key (NULL: no token check for that key).
CREATE TEMP TABLE tokens AS
  SELECT key, claim_token FROM idempotency.claim_guards('outbox', ARRAY['t-1', 't-2', 't-3']);
SELECT ord, key, recorded
  FROM idempotency.record_outcomes('outbox', ARRAY['t-1', 't-2', 't-3'], 'succeeded',
                                   claim_tokens => ARRAY[(SELECT claim_token FROM tokens WHERE key = 't-1'),
                                                         NULL,
                                                         (SELECT claim_token FROM tokens WHERE key = 't-3')]);
-- A guard taken over since (lease ran out): the old token gets IK004.
SELECT claim_token AS old_token
  FROM idempotency.claim_guards('outbox', ARRAY['t-4'], lease => '0.1 s') \gset
SELECT pg_sleep(0.2);
SELECT claimed AS taken_over FROM idempotency.claim_guards('outbox', ARRAY['t-4']);
\set VERBOSITY sqlstate
SELECT idempotency.record_outcomes('outbox', ARRAY['t-4'], 'succeeded',
                                   claim_tokens => ARRAY[:old_token]::bigint[]);
\set VERBOSITY default
SELECT status FROM idempotency.lookup('outbox', 't-4');

-- Bad input: a clear error with a documented SQLSTATE, and nothing recorded.
SELECT count(*) FILTER (WHERE claimed) AS claimed
  FROM idempotency.claim_guards('outbox', ARRAY['b-1', 'b-2']);
\set VERBOSITY sqlstate
SELECT idempotency.record_outcomes('outbox', NULL, 'succeeded');
SELECT idempotency.record_outcomes('outbox', ARRAY['b-1', NULL], 'succeeded');
SELECT idempotency.record_outcomes(NULL, ARRAY['b-1'], 'succeeded');
SELECT idempotency.record_outcomes('outbox', ARRAY['b-1'], NULL);
SELECT idempotency.record_outcomes('outbox', ARRAY['b-1', ''], 'succeeded');
SELECT idempotency.record_outcomes('outbox', ARRAY['b-1', repeat('k', 256)], 'succeeded');
SELECT idempotency.record_outcomes('outbox', ARRAY['b-1'], 'done');
SELECT idempotency.record_outcomes('outbox', ARRAY['b-1'], 'pending');
SELECT idempotency.record_outcomes('outbox', ARRAY[['b-1', 'b-2'], ['b-3', 'b-4']], 'succeeded');
SELECT idempotency.record_outcomes('outbox', ARRAY['b-1', 'b-2'], 'succeeded',
                                   ARRAY[['{}', '{}']]::jsonb[]);
SELECT idempotency.record_outcomes('outbox', ARRAY['b-1', 'b-2'], 'succeeded',
                                   ARRAY['{}']::jsonb[]);
SELECT idempotency.record_outcomes('outbox', ARRAY['b-1', 'b-2'], 'succeeded',
                                   claim_tokens => ARRAY[1, 2, 3]);
SELECT idempotency.record_outcomes('outbox', array_agg('k-' || i), 'succeeded')
  FROM generate_series(1, 1001) AS i;
SET idempotency.max_outcome_size = '1kB';
SELECT idempotency.record_outcomes('outbox', ARRAY['b-1', 'b-2'], 'succeeded',
                                   ARRAY['{}', jsonb_build_object('blob', repeat('x', 2000))]);
RESET idempotency.max_outcome_size;
\set VERBOSITY default
SELECT key, status FROM idempotency.guards WHERE scope = 'outbox' AND key LIKE 'b-%' ORDER BY key;
-- The limit itself is accepted; an empty batch answers nothing.
SELECT count(*) FILTER (WHERE claimed) AS claimed_at_limit
  FROM idempotency.claim_guards('outbox', (SELECT array_agg('k-' || i)
                                             FROM generate_series(1, 1000) AS i));
SELECT count(*) FILTER (WHERE recorded) AS recorded_at_limit
  FROM idempotency.record_outcomes('outbox', (SELECT array_agg('k-' || i)
                                                FROM generate_series(1, 1000) AS i), 'succeeded');
SELECT count(*) AS empty_batch
  FROM idempotency.record_outcomes('outbox', ARRAY[]::text[], 'succeeded');

-- Read-only transactions are refused, as for record_outcome.
BEGIN READ ONLY;
SELECT idempotency.record_outcomes('outbox', ARRAY['b-1'], 'succeeded');
ROLLBACK;

-- Scope restrictions apply, and grant_client covers record_outcomes.
CREATE ROLE idem_outcomes_app LOGIN;
SELECT idempotency.grant_client('idem_outcomes_app');
SELECT idempotency.restrict_scopes('idem_outcomes_app', ARRAY['outbox-app']);
SET ROLE idem_outcomes_app;
SELECT count(*) FILTER (WHERE claimed) AS claimed
  FROM idempotency.claim_guards('outbox-app', ARRAY['s-1']);
SELECT ord, key, recorded FROM idempotency.record_outcomes('outbox-app', ARRAY['s-1'], 'succeeded');
SELECT idempotency.record_outcomes('outbox', ARRAY['a-1'], 'succeeded');
RESET ROLE;
SELECT status FROM idempotency.lookup('outbox', 'a-1');
SELECT idempotency.unrestrict_scopes('idem_outcomes_app');
SELECT idempotency.revoke_client('idem_outcomes_app');
SET ROLE idem_outcomes_app;
SELECT idempotency.record_outcomes('outbox-app', ARRAY['s-1'], 'succeeded');
RESET ROLE;
DROP ROLE idem_outcomes_app;
DELETE FROM idempotency.guards WHERE scope LIKE 'outbox%';
