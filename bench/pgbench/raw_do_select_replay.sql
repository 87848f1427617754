-- workload 13 (PostgreSQL 19): the hand-written get-or-create of a completed
-- guard, which returns the stored row (and its outcome) as it is
\set k random(1, :rows)
INSERT INTO bench_raw.guards AS g (scope, key, status, claim_token, claimed_at, expires_at)
  VALUES ('bench', :k, 'pending', (pg_catalog.random() * 9e18)::pg_catalog.int8, pg_catalog.now(),
          pg_catalog.now() + '1 day'::pg_catalog.interval)
  ON CONFLICT (scope, key) DO SELECT
  RETURNING old.key IS NULL AS claimed, g.claim_token, g.status, g.outcome, g.claimed_at,
            g.completed_at, g.expires_at;
