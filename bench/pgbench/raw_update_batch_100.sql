-- workload 12: the hand-written batch outcome, 100 pending guards in one
-- UPDATE ... ANY (keys as in record_outcomes_100.sql).
\set n :n + 1
\if :n > :pool
\set n 1
\endif
\set base :run * 1000000000000 + :client_id * 1000000000 + (:n - 1) * 100
UPDATE bench_raw.guards AS g
   SET status = 'succeeded', outcome = '{"charge_id": "ch_3MmlLrLkdIwHu7ix", "amount": 1999}',
       completed_at = pg_catalog.now()
 WHERE g.scope = 'bench'
   AND g.key = ANY (ARRAY(SELECT (:base::pg_catalog.int8 + i)::pg_catalog.text
                            FROM pg_catalog.generate_series(1, 100) AS i))
   AND g.status = 'pending';
