-- record_outcome: write-once; an identical retry is harmless.
SELECT idempotency.claim_guard('payments', 'r-1');
SELECT idempotency.record_outcome('payments', 'r-1', 'succeeded', '{"charge": "ch_1", "amount": 100}') AS recorded;
-- The same outcome again (key order and spacing do not matter): false, no error.
SELECT idempotency.record_outcome('payments', 'r-1', 'succeeded', '{"amount":100,"charge":"ch_1"}') AS again;
SELECT status, outcome FROM idempotency.guards WHERE key = 'r-1';
-- A different outcome: IK003, and the stored one is unchanged.
\set VERBOSITY sqlstate
SELECT idempotency.record_outcome('payments', 'r-1', 'succeeded', '{"charge": "ch_2", "amount": 100}');
SELECT idempotency.record_outcome('payments', 'r-1', 'failed', '{"charge": "ch_1", "amount": 100}');
\set VERBOSITY default
SELECT idempotency.record_outcome('payments', 'r-1', 'failed', '{"charge": "ch_2"}');
SELECT status, outcome FROM idempotency.guards WHERE key = 'r-1';

-- A failure with no outcome document; recorded once, then replayed.
SELECT idempotency.claim_guard('payments', 'r-2');
SELECT idempotency.record_outcome('payments', 'r-2', 'failed') AS recorded;
SELECT idempotency.record_outcome('payments', 'r-2', 'failed') AS again;
\set VERBOSITY sqlstate
SELECT idempotency.record_outcome('payments', 'r-2', 'failed', '{}');
\set VERBOSITY default
-- Outcomes may be any JSON value, scalars included.
SELECT idempotency.claim_guard('payments', 'r-3');
SELECT idempotency.record_outcome('payments', 'r-3', 'succeeded', '"done"');
SELECT outcome FROM idempotency.lookup('payments', 'r-3');

-- No guard: IK002.
SELECT idempotency.record_outcome('payments', 'never-claimed', 'succeeded');

-- The fencing token: the current owner's token is accepted...
SELECT claim_token AS owner FROM idempotency.claim_or_lookup('payments', 'r-4') \gset
SELECT idempotency.record_outcome('payments', 'r-4', 'succeeded', '{"n": 1}', :owner) AS with_token;
-- ...and an identical retry with it is harmless.
SELECT idempotency.record_outcome('payments', 'r-4', 'succeeded', '{"n": 1}', :owner) AS retry;
-- A token that never existed is rejected: IK004.
SELECT claim_token AS owner FROM idempotency.claim_or_lookup('payments', 'r-5') \gset
SELECT idempotency.record_outcome('payments', 'r-5', 'succeeded', NULL, 42);
SELECT status FROM idempotency.guards WHERE key = 'r-5';

-- Outcomes over idempotency.max_outcome_size: 54000, nothing written.
SELECT idempotency.claim_guard('payments', 'r-6');
SET idempotency.max_outcome_size = '1kB';
SELECT idempotency.record_outcome('payments', 'r-6', 'succeeded',
       jsonb_build_object('blob', repeat('x', 2000)));
SELECT status FROM idempotency.guards WHERE key = 'r-6';
SELECT idempotency.record_outcome('payments', 'r-6', 'succeeded',
       jsonb_build_object('blob', repeat('x', 500))) AS small_enough;
RESET idempotency.max_outcome_size;
-- A large outcome under the default limit is stored and replayed intact.
SELECT idempotency.claim_guard('payments', 'r-7');
SELECT idempotency.record_outcome('payments', 'r-7', 'succeeded',
       jsonb_build_object('blob', repeat('y', 500000)));
SELECT length(outcome->>'blob') FROM idempotency.lookup('payments', 'r-7');
