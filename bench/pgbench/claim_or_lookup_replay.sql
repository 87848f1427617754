-- workload 3: a retry answered with the stored outcome of a completed guard
\set k random(1, :rows)
SELECT * FROM idempotency.claim_or_lookup('bench', :k);
