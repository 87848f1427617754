-- workload 2: the hand-written claim of an existing guard
\set k random(1, :rows)
INSERT INTO bench_raw.guards AS g (scope, key, status, claim_token, claimed_at, expires_at)
  VALUES ('bench', :k, 'pending', (pg_catalog.random() * 9e18)::pg_catalog.int8, pg_catalog.now(),
          pg_catalog.now() + '1 day'::pg_catalog.interval)
  ON CONFLICT (scope, key) DO NOTHING RETURNING g.key;
