-- workload 10: claim a new key in a scope with limits (set_limits), far from full
\set k random(1000000000000, 999999999999999)
SELECT idempotency.claim_guard('limited', :k);
