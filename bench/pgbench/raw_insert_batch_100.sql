-- workload 8: the hand-written batch claim, 100 keys in one statement
\set r random(1, 10000000000000)
INSERT INTO bench_raw.guards AS g (scope, key, status, claim_token, claimed_at, expires_at)
  SELECT 'bench', k, 'pending', (pg_catalog.random() * 9e18)::pg_catalog.int8, pg_catalog.now(),
         pg_catalog.now() + '1 day'::pg_catalog.interval
    FROM pg_catalog.unnest(ARRAY(SELECT (:r::pg_catalog.int8 * 100 + i)::pg_catalog.text
                                   FROM pg_catalog.generate_series(1, 100) AS i)) AS k
  ON CONFLICT (scope, key) DO NOTHING RETURNING g.key;
