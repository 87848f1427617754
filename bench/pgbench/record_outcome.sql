-- workload 4: record the outcome of a fresh pending guard. Each client walks
-- its own pre-claimed keys: run * 10^12 + client_id * 10^9 + n, n = 1..pool
-- (the harness pre-loads them; -D run=..., pool=..., n=0).
\set n :n + 1
\if :n > :pool
\set n 1
\endif
\set k :run * 1000000000000 + :client_id * 1000000000 + :n
SELECT idempotency.record_outcome('bench', :k, 'succeeded', '{"charge_id": "ch_3MmlLrLkdIwHu7ix", "amount": 1999}');
