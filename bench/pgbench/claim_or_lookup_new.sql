-- workload 13: get-or-create of a new key (random, so inserts land all over the index)
\set k random(1000000000000, 999999999999999)
SELECT * FROM idempotency.claim_or_lookup('bench', :k);
