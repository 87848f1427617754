-- Bad input: a clear error with a documented SQLSTATE, nothing written.
\set VERBOSITY sqlstate
SELECT count(*) AS before FROM idempotency.guards \gset
-- NULL scope, key or status: 22004.
SELECT idempotency.claim_guard(NULL, 'k');
SELECT idempotency.claim_guard('s', NULL);
SELECT * FROM idempotency.claim_or_lookup(NULL, 'k');
SELECT idempotency.record_outcome(NULL, 'k', 'succeeded');
SELECT idempotency.record_outcome('s', NULL, 'succeeded');
SELECT idempotency.record_outcome('s', 'k', NULL);
SELECT * FROM idempotency.lookup(NULL, 'k');
SELECT * FROM idempotency.lookup('s', NULL);
SELECT idempotency.release_guard(NULL, 'k');
SELECT idempotency.release_guard('s', NULL);
-- Empty and over-long scope and key: 22023 (the limit is 255 bytes).
SELECT idempotency.claim_guard('', 'k');
SELECT idempotency.claim_guard('s', '');
SELECT idempotency.claim_guard(repeat('s', 256), 'k');
SELECT idempotency.claim_guard('s', repeat('k', 256));
SELECT * FROM idempotency.lookup('s', repeat('k', 256));
SELECT idempotency.release_guard('', 'k');
SELECT idempotency.record_outcome('s', '', 'failed');
-- Bytes, not characters: 128 two-byte characters are 256 bytes.
SELECT idempotency.claim_guard('s', repeat('é', 128));
-- Zero, negative and net-negative ttl and lease: 22023.
SELECT idempotency.claim_guard('s', 'k', ttl => '0');
SELECT idempotency.claim_guard('s', 'k', ttl => '-1 second');
SELECT idempotency.claim_guard('s', 'k', ttl => '1 day -48 hours');
SELECT idempotency.claim_guard('s', 'k', lease => '0');
SELECT idempotency.claim_guard('s', 'k', lease => '-5 minutes');
-- A ttl past the end of time: 22008 (timestamp out of range).
SELECT idempotency.claim_guard('s', 'k', ttl => '300000 years');
-- Unknown status and wrong case: 22023. 'pending' is not an outcome.
SELECT idempotency.record_outcome('s', 'k', 'success');
SELECT idempotency.record_outcome('s', 'k', 'SUCCEEDED');
SELECT idempotency.record_outcome('s', 'k', 'pending');
SELECT idempotency.record_outcome('s', 'k', '');
-- Empty or over-long fingerprint: 22023.
SELECT idempotency.claim_guard('s', 'k', fingerprint => '');
SELECT idempotency.claim_guard('s', 'k', fingerprint => repeat('f', 1025));
SELECT count(*) - :before AS rows_written FROM idempotency.guards;
\set VERBOSITY default
-- The messages say what is wrong and what the limit is.
SELECT idempotency.claim_guard(repeat('s', 300), 'k');
SELECT idempotency.claim_guard('s', 'k', ttl => '-1 second');
SELECT idempotency.record_outcome('s', 'k', 'Succeeded');
-- Exactly at the limits is fine.
SELECT idempotency.claim_guard(repeat('s', 255), repeat('k', 255)) AS at_limit,
       idempotency.claim_guard('s', repeat('é', 127) || 'x') AS multibyte_at_limit,
       idempotency.claim_guard('s', 'fp', fingerprint => repeat('f', 1024)) AS fingerprint_at_limit;
-- Keys are data, never SQL: quotes, backslashes, LIKE wildcards, injections.
SELECT idempotency.claim_guard('s', $$'; DROP TABLE idempotency.guards; --$$) AS injection,
       idempotency.claim_guard('s', 'a\b''c"d') AS quotes,
       idempotency.claim_guard('s', '%') AS percent,
       idempotency.claim_guard('s', '_') AS underscore,
       idempotency.claim_guard('s', E'tab\there\nnewline') AS control;
SELECT idempotency.claim_guard('s', 'x%') AS not_a_pattern, idempotency.claim_guard('s', '%') AS dup;
SELECT count(*) FROM idempotency.guards WHERE scope = 's';
