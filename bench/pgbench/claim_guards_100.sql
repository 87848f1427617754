-- workload 8: claim 100 new keys in one call
\set r random(1, 10000000000000)
SELECT key, claimed FROM idempotency.claim_guards(
  'bench', ARRAY(SELECT (:r::pg_catalog.int8 * 100 + i)::pg_catalog.text
                   FROM pg_catalog.generate_series(1, 100) AS i));
