-- workloads 1, 6, 7: claim a new key (random, so inserts land all over the index)
\set k random(1000000000000, 999999999999999)
SELECT idempotency.claim_guard('bench', :k);
