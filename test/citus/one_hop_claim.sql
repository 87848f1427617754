-- Claims in one hop through the Citus coordinator (docs/scaling.md, "Claims in
-- one hop"). Run once on the coordinator, after idempotency.distribute(), by a
-- superuser; scripts/test-citus.sh runs this file as it is.
--
-- A client calls one_hop.claim_guard(scope, key, ...) instead of
-- idempotency.claim_guard(...). The coordinator's planner inlines it into a
-- call of one_hop.claim_on_shard, a function Citus delegates: the whole call
-- goes to the worker holding the guard's shard in one round trip, and
-- idempotency.claim_guard runs there next to the shard.
--
-- Why not delegate idempotency.claim_guard itself: Citus 13.2.2 and 14.0.1
-- crash the backend (FindShardInterval hashes a NULL datum) when a delegated
-- call's distribution argument is a NULL constant, and
-- idempotency.claim_guard('s', NULL) is a call any client can make. Here a
-- NULL key cannot get there:
--   * one_hop.claim_guard passes one_hop.required(key, 'key'), an immutable
--     function the planner evaluates while the key is a constant: a NULL key
--     is 22004 before Citus looks at the call;
--   * one_hop.claim_on_shard is STRICT, so a direct call with a NULL key is
--     folded to NULL by the planner, and is not delegated either. Its other
--     arguments, which may be NULL, travel in one composite value (a row of
--     NULLs is not a NULL argument).

CREATE SCHEMA one_hop;

-- The argument, or 22004 with the message idempotency.claim_guard gives.
CREATE FUNCTION one_hop.required(value pg_catalog.text, argument pg_catalog.text)
RETURNS pg_catalog.text
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF value IS NULL THEN
        RAISE EXCEPTION '% must not be NULL', argument USING ERRCODE = 'null_value_not_allowed';
    END IF;
    RETURN value;
END
$$;

CREATE TYPE one_hop.claim_options AS (
    ttl pg_catalog.interval, fingerprint pg_catalog.text, lease pg_catalog.interval,
    attempt pg_catalog.text);

-- The delegated function: it runs on the node holding the shard of its
-- distribution argument (the key, or the scope when guards are distributed
-- by scope).
CREATE FUNCTION one_hop.claim_on_shard(key pg_catalog.text, scope pg_catalog.text,
                                       options one_hop.claim_options)
RETURNS pg_catalog.bool
LANGUAGE sql STRICT VOLATILE
AS $$
    SELECT idempotency.claim_guard(scope, key, (options).ttl, (options).fingerprint,
                                   (options).lease, (options).attempt)
$$;

-- What clients call: the arguments and answers of idempotency.claim_guard.
-- Plain SQL with one expression (no STRICT, no SET, not SECURITY DEFINER), so
-- the planner inlines it.
CREATE FUNCTION one_hop.claim_guard(
    scope pg_catalog.text, key pg_catalog.text, ttl pg_catalog.interval DEFAULT NULL,
    fingerprint pg_catalog.text DEFAULT NULL, lease pg_catalog.interval DEFAULT NULL,
    attempt pg_catalog.text DEFAULT NULL)
RETURNS pg_catalog.bool
LANGUAGE sql VOLATILE
AS $$
    SELECT one_hop.claim_on_shard(one_hop.required(key, 'key'), one_hop.required(scope, 'scope'),
                                  ROW(ttl, fingerprint, lease, attempt)::one_hop.claim_options)
$$;

-- Clients need EXECUTE on the three functions (the inlined call runs with the
-- caller's rights), besides idempotency.grant_client(role):
--   GRANT USAGE ON SCHEMA one_hop TO app;
--   GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA one_hop TO app;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA one_hop FROM PUBLIC;

SELECT pg_catalog.create_distributed_function(
           'one_hop.claim_on_shard(text, text, one_hop.claim_options)',
           CASE column_to_column_name(p.logicalrelid, p.partkey) WHEN 'key' THEN '$1' ELSE '$2' END,
           colocate_with := 'idempotency.guards')
  FROM pg_catalog.pg_dist_partition AS p
 WHERE p.logicalrelid = 'idempotency.guards'::pg_catalog.regclass;

