-- workload 2: a retry, i.e. a claim of an existing (completed) guard
\set k random(1, :rows)
SELECT idempotency.claim_guard('bench', :k);
