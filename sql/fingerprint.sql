-- Fingerprints: a key reused for a different request is an error (IK001),
-- not a silent "already done".
SELECT idempotency.claim_guard('payments', 'f-1', fingerprint => 'sha256:aaaa');
SELECT idempotency.claim_guard('payments', 'f-1', fingerprint => 'sha256:aaaa') AS same_request;
SELECT idempotency.claim_guard('payments', 'f-1', fingerprint => 'sha256:bbbb');
SELECT * FROM idempotency.claim_or_lookup('payments', 'f-1', fingerprint => 'sha256:bbbb');
-- A retry without a fingerprint is not compared.
SELECT idempotency.claim_guard('payments', 'f-1') AS no_fingerprint;
-- A guard claimed without a fingerprint accepts any.
SELECT idempotency.claim_guard('payments', 'f-2');
SELECT idempotency.claim_guard('payments', 'f-2', fingerprint => 'sha256:cccc') AS any_fingerprint;
-- The check holds after completion too, and does not touch the guard.
SELECT idempotency.record_outcome('payments', 'f-1', 'succeeded', '{"id": 1}');
SELECT idempotency.claim_guard('payments', 'f-1', fingerprint => 'sha256:bbbb');
SELECT status, fingerprint, outcome FROM idempotency.guards WHERE key = 'f-1';
-- An expired guard is claimable by any request.
SELECT idempotency.claim_guard('payments', 'f-3', ttl => '0.2 s', fingerprint => 'sha256:1');
SELECT pg_sleep(0.3);
SELECT idempotency.claim_guard('payments', 'f-3', fingerprint => 'sha256:2') AS after_expiry;
SELECT fingerprint FROM idempotency.guards WHERE key = 'f-3';
-- A lease does not let a different request take over.
SELECT idempotency.claim_guard('payments', 'f-4', fingerprint => 'sha256:1', lease => '0.1 s');
SELECT pg_sleep(0.2);
SELECT idempotency.claim_guard('payments', 'f-4', fingerprint => 'sha256:2');
SELECT idempotency.claim_guard('payments', 'f-4', fingerprint => 'sha256:1') AS same_request_takes_over;
