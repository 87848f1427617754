-- workload 1: the hand-written claim, wrapped in a PL/pgSQL function
\set k random(1000000000000, 999999999999999)
SELECT bench_raw.claim_guard('bench', :k);
