-- workload 1: the hand-written claim, as one statement
\set k random(1000000000000, 999999999999999)
INSERT INTO bench_raw.guards AS g (scope, key, status, claim_token, claimed_at, expires_at)
  VALUES ('bench', :k, 'pending', (pg_catalog.random() * 9e18)::pg_catalog.int8, pg_catalog.now(),
          pg_catalog.now() + '1 day'::pg_catalog.interval)
  ON CONFLICT (scope, key) DO NOTHING RETURNING g.key;
