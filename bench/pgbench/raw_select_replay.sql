-- workload 3: reading the stored outcome by hand
\set k random(1, :rows)
SELECT g.status, g.outcome, g.claimed_at, g.completed_at, g.expires_at
  FROM bench_raw.guards AS g
 WHERE g.scope = 'bench' AND g.key = :k AND g.expires_at > pg_catalog.now();
