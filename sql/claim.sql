-- claim_guard: the first call for a (scope, key) wins, every later one loses.
SELECT idempotency.claim_guard('payments', 'order-1') AS first_claim;
SELECT idempotency.claim_guard('payments', 'order-1') AS retry;
SELECT idempotency.claim_guard('payments', 'order-1', ttl => '1 hour') AS retry_with_ttl;
-- The same key in another scope is another guard.
SELECT idempotency.claim_guard('emails', 'order-1') AS other_scope;
-- Keys are compared exactly: case, spaces and trailing bytes all count.
SELECT idempotency.claim_guard('payments', 'Order-1') AS other_case,
       idempotency.claim_guard('payments', 'order-1 ') AS trailing_space;
SELECT scope, quote_literal(key) AS key, status, outcome IS NULL AS no_outcome, completed_at IS NULL AS not_completed,
       expires_at - claimed_at AS ttl
  FROM idempotency.guards ORDER BY scope, key;

-- The default ttl comes from idempotency.default_ttl.
SET idempotency.default_ttl = '90min';
SELECT idempotency.claim_guard('payments', 'order-2');
SELECT expires_at - claimed_at AS ttl FROM idempotency.guards WHERE key = 'order-2';
RESET idempotency.default_ttl;
-- An explicit ttl wins; months and days are calendar arithmetic.
SELECT idempotency.claim_guard('payments', 'order-3', ttl => '7 days');
SELECT expires_at - claimed_at AS ttl FROM idempotency.guards WHERE key = 'order-3';

-- claim_or_lookup: the claim and, when it is lost, the guard in the way.
SELECT claimed, claim_token > 0 AS has_token, status, outcome, completed_at IS NULL AS open,
       expires_at - claimed_at AS ttl
  FROM idempotency.claim_or_lookup('payments', 'order-4', ttl => '10 minutes');
SELECT claimed, claim_token, status, outcome, completed_at IS NULL AS open
  FROM idempotency.claim_or_lookup('payments', 'order-4');
-- The token it hands out is the one stored with the guard.
SELECT claim_token AS token FROM idempotency.claim_or_lookup('payments', 'order-5') \gset
SELECT claim_token = :token AS token_stored FROM idempotency.guards WHERE key = 'order-5';
-- Every claim gets its own token.
SELECT count(DISTINCT claim_token) = count(*) AS tokens_unique FROM idempotency.guards;
-- After an outcome is recorded, a lost claim replays it.
SELECT idempotency.record_outcome('payments', 'order-4', 'succeeded', '{"charge": "ch_1"}');
SELECT claimed, claim_token, status, outcome, completed_at >= claimed_at AS completed_after_claim
  FROM idempotency.claim_or_lookup('payments', 'order-4');
