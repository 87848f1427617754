-- workload 4: the hand-written outcome: an UPDATE of the pending guard
\set n :n + 1
\if :n > :pool
\set n 1
\endif
\set k :run * 1000000000000 + :client_id * 1000000000 + :n
UPDATE bench_raw.guards AS g
   SET status = 'succeeded', outcome = '{"charge_id": "ch_3MmlLrLkdIwHu7ix", "amount": 1999}',
       completed_at = pg_catalog.now()
 WHERE g.scope = 'bench' AND g.key = :k AND g.status = 'pending';
