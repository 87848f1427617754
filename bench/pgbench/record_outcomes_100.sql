-- workload 12: record the outcomes of 100 pre-claimed pending guards in one
-- record_outcomes() call. Each client walks its own batches of keys
-- run * 10^12 + client_id * 10^9 + (n - 1) * 100 + i, i = 1..100, n = 1..pool
-- (the harness pre-loads them; -D run=..., pool=..., n=0).
\set n :n + 1
\if :n > :pool
\set n 1
\endif
\set base :run * 1000000000000 + :client_id * 1000000000 + (:n - 1) * 100
SELECT count(*) FILTER (WHERE recorded) FROM idempotency.record_outcomes(
  'bench', ARRAY(SELECT (:base::pg_catalog.int8 + i)::pg_catalog.text
                   FROM pg_catalog.generate_series(1, 100) AS i),
  'succeeded',
  pg_catalog.array_fill('{"charge_id": "ch_3MmlLrLkdIwHu7ix", "amount": 1999}'::pg_catalog.jsonb,
                        ARRAY[100]));
