-- A claim is part of the caller's transaction.
BEGIN;
SELECT idempotency.claim_guard('tx', 'rolled-back');
ROLLBACK;
SELECT count(*) FROM idempotency.guards WHERE scope = 'tx';
SELECT idempotency.claim_guard('tx', 'rolled-back') AS claimable_after_rollback;

-- Pattern 2: the claim and the local effect commit or roll back together.
CREATE TABLE tx_orders (id text PRIMARY KEY, amount int);
BEGIN;
SELECT idempotency.claim_guard('tx', 'order-9') AS claimed;
INSERT INTO tx_orders VALUES ('order-9', 100);
SELECT idempotency.record_outcome('tx', 'order-9', 'succeeded', '{"order": "order-9"}');
COMMIT;
-- A retry of the whole transaction sees the guard and skips the insert.
SELECT idempotency.claim_guard('tx', 'order-9') AS retry_claimed;
SELECT count(*) FROM tx_orders;

-- Errors inside a savepoint roll back to it, and the claim before it stays.
BEGIN;
SELECT idempotency.claim_guard('tx', 'sp-1');
SAVEPOINT s;
SELECT idempotency.record_outcome('tx', 'sp-1', 'unknown');
ROLLBACK TO SAVEPOINT s;
SELECT idempotency.record_outcome('tx', 'sp-1', 'succeeded');
COMMIT;
SELECT status FROM idempotency.guards WHERE key = 'sp-1';

-- PL/pgSQL can catch the documented SQLSTATEs by code.
DO $$
BEGIN
  PERFORM idempotency.record_outcome('tx', 'sp-1', 'failed');
EXCEPTION WHEN SQLSTATE 'IK003' THEN
  RAISE NOTICE 'caught IK003: %', SQLERRM;
END
$$;
-- A claim inside a caught error stays usable for the rest of the transaction.
BEGIN;
DO $$
BEGIN
  PERFORM idempotency.claim_guard('tx', '');
EXCEPTION WHEN invalid_parameter_value THEN
  RAISE NOTICE 'caught 22023';
END
$$;
SELECT idempotency.claim_guard('tx', 'after-caught-error');
COMMIT;
SELECT count(*) FROM idempotency.guards WHERE key = 'after-caught-error';
DROP TABLE tx_orders;
