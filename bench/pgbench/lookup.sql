-- workloads 5, 6: look up a live guard
\set k random(1, :rows)
SELECT * FROM idempotency.lookup('bench', :k);
