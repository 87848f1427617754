-- workload 12: the same 100 outcomes with one record_outcome() per key, all in
-- one statement (keys as in record_outcomes_100.sql).
\set n :n + 1
\if :n > :pool
\set n 1
\endif
\set base :run * 1000000000000 + :client_id * 1000000000 + (:n - 1) * 100
SELECT count(*) FILTER (WHERE recorded) FROM (
  SELECT idempotency.record_outcome('bench', (:base::pg_catalog.int8 + i)::pg_catalog.text,
                                    'succeeded',
                                    '{"charge_id": "ch_3MmlLrLkdIwHu7ix", "amount": 1999}')
         AS recorded
    FROM pg_catalog.generate_series(1, 100) AS i) AS answers;
