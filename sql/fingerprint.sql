-- Fingerprints: a key reused for a different request is an error (IK001),
-- not a silent "already done". (Terse: the detail holds a timestamp; it is
-- checked at the end.)
\set VERBOSITY terse
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
\set VERBOSITY default

-- IK001's detail says when the live guard was claimed and its status, so a
-- support engineer can tell a client's bug from a replay.
CREATE FUNCTION pg_temp.ik001_detail(key text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  detail text;
BEGIN
  PERFORM idempotency.claim_guard('payments', key, fingerprint => 'sha256:different');
  RETURN 'no error';
EXCEPTION WHEN SQLSTATE 'IK001' THEN
  GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
  RETURN detail;
END $$;
SELECT idempotency.claim_guard('payments', 'f-5', fingerprint => 'sha256:5') AS claimed;
SELECT pg_temp.ik001_detail('f-5') = format(
         'The live guard for scope "payments", key "f-5" was claimed at %s with a different'
         ' fingerprint, and is still pending (no outcome recorded yet).', claimed_at) AS pending_detail
  FROM idempotency.guards WHERE scope = 'payments' AND key = 'f-5';
SELECT idempotency.record_outcome('payments', 'f-5', 'failed');
SELECT pg_temp.ik001_detail('f-5') = format(
         'The live guard for scope "payments", key "f-5" was claimed at %s with a different'
         ' fingerprint, and has its outcome recorded as failed.', claimed_at) AS completed_detail
  FROM idempotency.guards WHERE scope = 'payments' AND key = 'f-5';
