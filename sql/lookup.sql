-- lookup: the live guard, or no row.
SELECT * FROM idempotency.lookup('payments', 'missing');
SELECT idempotency.claim_guard('payments', 'l-1', fingerprint => 'sha256:abc');
SELECT scope, key, status, fingerprint, outcome, completed_at IS NULL AS open,
       expires_at - claimed_at AS ttl
  FROM idempotency.lookup('payments', 'l-1');
SELECT idempotency.record_outcome('payments', 'l-1', 'failed', '{"error": "card_declined"}');
SELECT scope, key, status, fingerprint, outcome, completed_at >= claimed_at AS completed
  FROM idempotency.lookup('payments', 'l-1');
-- lookup never writes: it works in a read-only transaction.
BEGIN TRANSACTION READ ONLY;
SELECT status FROM idempotency.lookup('payments', 'l-1');
COMMIT;
-- Guards are only writable through the functions: a read-only transaction
-- refuses a claim with 25006 before touching the table.
BEGIN TRANSACTION READ ONLY;
SELECT idempotency.claim_guard('payments', 'l-2');
ROLLBACK;
SELECT count(*) FROM idempotency.lookup('payments', 'l-2');

-- Called in the select list, lookup() and claim_or_lookup() return rows too.
SELECT (idempotency.lookup('payments', 'l-1')).status AS status,
       (idempotency.claim_or_lookup('payments', 'l-1')).claimed AS claimed;
SELECT idempotency.lookup('payments', 'l-1') IS NOT NULL AS found,
       idempotency.lookup('payments', 'no-such-key') IS NULL AS missing;
