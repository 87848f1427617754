-- claim_or_lookup(..., wait => ...): the argument's checks, and the answers
-- that need no waiting. The waits themselves (woken by a commit, a release,
-- a lease that runs out, or timing out) are in test/isolation/specs/claim_wait.spec.
\set VERBOSITY sqlstate
-- Negative, or longer than the 5-minute cap: 22023, before anything is written.
SELECT * FROM idempotency.claim_or_lookup('wait', 'bad', wait => '-1 second');
SELECT * FROM idempotency.claim_or_lookup('wait', 'bad', wait => '5 minutes 1 second');
SELECT * FROM idempotency.claim_or_lookup('wait', 'bad', wait => '1 day');
SELECT * FROM idempotency.claim_or_lookup('wait', 'bad', wait => '1 mon');
SELECT count(*) AS nothing_written FROM idempotency.guards WHERE scope = 'wait';
\set VERBOSITY default

-- No guard in the way: the call claims at once, whatever the wait.
SELECT claimed, status FROM idempotency.claim_or_lookup('wait', 'free', wait => '5 minutes');
-- A completed guard: its outcome is replayed at once.
SELECT idempotency.record_outcome('wait', 'free', 'succeeded', '{"order": 7}');
SELECT claimed, status, outcome, clock_timestamp() - statement_timestamp() < interval '1 minute'
       AS answered_at_once
  FROM idempotency.claim_or_lookup('wait', 'free', wait => '5 minutes');
-- A key reused for a different request is refused at once (IK001), not waited on.
SELECT claimed FROM idempotency.claim_or_lookup('wait', 'printed', fingerprint => 'a');
\set VERBOSITY sqlstate
SELECT * FROM idempotency.claim_or_lookup('wait', 'printed', fingerprint => 'b',
                                          wait => '5 minutes');
\set VERBOSITY default

-- NULL and zero do not wait: a pending guard answers pending.
SELECT claimed, status FROM idempotency.claim_or_lookup('wait', 'printed', fingerprint => 'a',
                                                        wait => NULL);
SELECT claimed, status FROM idempotency.claim_or_lookup('wait', 'printed', fingerprint => 'a',
                                                        wait => '0');
-- A short wait on a pending guard nobody answers: still pending when it
-- elapses, after the whole wait.
SELECT claimed, status, clock_timestamp() - statement_timestamp() >= interval '200 ms'
       AS waited_it_out
  FROM idempotency.claim_or_lookup('wait', 'printed', fingerprint => 'a', wait => '200 ms');
-- Positional, as the seventh argument (after attempt).
SELECT claimed, status
  FROM idempotency.claim_or_lookup('wait', 'printed', NULL, 'a', NULL, NULL, '10 ms');

-- A transaction snapshot could never see the first attempt's answer: under
-- REPEATABLE READ and SERIALIZABLE a wait is refused (55000); without one
-- the call works as before.
BEGIN ISOLATION LEVEL REPEATABLE READ;
\set VERBOSITY sqlstate
SELECT * FROM idempotency.claim_or_lookup('wait', 'printed', wait => '1 second');
\set VERBOSITY default
ROLLBACK;
BEGIN ISOLATION LEVEL SERIALIZABLE;
\set VERBOSITY sqlstate
SELECT * FROM idempotency.claim_or_lookup('wait', 'printed', wait => '1 second');
\set VERBOSITY default
ROLLBACK;
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT claimed, status FROM idempotency.claim_or_lookup('wait', 'printed', wait => '0');
SELECT claimed, status FROM idempotency.claim_or_lookup('wait', 'printed');
ROLLBACK;

-- The guard in the way is this transaction's own pending claim: nobody else
-- can answer it, so the wait runs out and the answer is pending.
BEGIN;
SELECT claimed FROM idempotency.claim_or_lookup('wait', 'mine');
SELECT claimed, status FROM idempotency.claim_or_lookup('wait', 'mine', wait => '50 ms');
ROLLBACK;

-- A read-only transaction refuses the claim as before (25006), wait or not.
BEGIN READ ONLY;
\set VERBOSITY sqlstate
SELECT * FROM idempotency.claim_or_lookup('wait', 'free', wait => '1 second');
\set VERBOSITY default
ROLLBACK;

-- The old five-argument form is gone; calls without `wait` resolve to the new one.
SELECT count(*) AS claim_or_lookup_versions FROM pg_proc
 WHERE proname = 'claim_or_lookup' AND pronamespace = 'idempotency'::regnamespace;
DELETE FROM idempotency.guards WHERE scope = 'wait';
