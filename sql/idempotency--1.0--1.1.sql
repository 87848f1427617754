-- idempotency 1.0 -> 1.1: lookup() and claim_or_lookup() return named row
-- types (idempotency.guard_state, idempotency.claim_state) instead of
-- RETURNS TABLE. Same columns, same arguments, same calls. Why: for a
-- function with OUT parameters PostgreSQL rebuilds the row description from
-- pg_proc every time a query calling it starts (about 14,000 instructions,
-- more than the rest of a lookup); a named type's comes from the type cache.
-- A new installation runs 1.0 and then this script.
\echo Use "ALTER EXTENSION idempotency UPDATE TO '1.1'" to load this file. \quit

CREATE TYPE idempotency.guard_state AS (
    scope        pg_catalog.text,
    key          pg_catalog.text,
    status       pg_catalog.text,
    fingerprint  pg_catalog.text,
    outcome      pg_catalog.jsonb,
    claimed_at   pg_catalog.timestamptz,
    completed_at pg_catalog.timestamptz,
    expires_at   pg_catalog.timestamptz
);

CREATE TYPE idempotency.claim_state AS (
    claimed      pg_catalog.bool,
    claim_token  pg_catalog.int8,
    status       pg_catalog.text,
    outcome      pg_catalog.jsonb,
    claimed_at   pg_catalog.timestamptz,
    completed_at pg_catalog.timestamptz,
    expires_at   pg_catalog.timestamptz
);

-- Grants EXECUTE on `function` to `grantee` (0: PUBLIC), WITH GRANT OPTION
-- if `grantable`, as a DBA's own GRANT would be: not recorded as part of the
-- extension (pg_init_privs), so pg_dump keeps dumping it. The grant is made
-- by the functions' owner. Only this script uses it; it is dropped below.
CREATE FUNCTION idempotency.regrant_execute(function pg_catalog.regprocedure,
                                            grantee pg_catalog.oid,
                                            grantable pg_catalog.bool)
RETURNS void
LANGUAGE c STRICT VOLATILE
AS 'MODULE_PATHNAME', 'idempotency_regrant_execute';
REVOKE ALL ON FUNCTION idempotency.regrant_execute(pg_catalog.regprocedure, pg_catalog.oid,
                                                   pg_catalog.bool) FROM PUBLIC;

-- Who may call the two functions now (grant_client, or a DBA's own GRANT)
-- may call the new ones: their grants are kept across the re-creation.
CREATE FUNCTION idempotency.execute_grantees(function pg_catalog.regprocedure)
RETURNS TABLE(grantee pg_catalog.oid, grantable pg_catalog.bool)
LANGUAGE sql STABLE
AS $$
    SELECT a.grantee, a.is_grantable
      FROM pg_catalog.pg_proc AS p,
           LATERAL pg_catalog.aclexplode(p.proacl) AS a
     WHERE p.oid OPERATOR(pg_catalog.=) $1
       AND a.privilege_type OPERATOR(pg_catalog.=) 'EXECUTE'
       AND a.grantee OPERATOR(pg_catalog.<>) p.proowner
$$;

CREATE TABLE idempotency.upgrade_grants AS
    SELECT 'lookup' AS function, g.grantee, g.grantable
      FROM idempotency.execute_grantees(
               'idempotency.lookup(pg_catalog.text, pg_catalog.text)') AS g
    UNION ALL
    SELECT 'claim_or_lookup', g.grantee, g.grantable
      FROM idempotency.execute_grantees(
               'idempotency.claim_or_lookup(pg_catalog.text, pg_catalog.text, pg_catalog.interval,'
               ' pg_catalog.text, pg_catalog.interval)') AS g;

-- Fails, naming them, if views or functions of the database depend on the
-- old functions: drop those first and re-create them after the update.
DROP FUNCTION idempotency.lookup(pg_catalog.text, pg_catalog.text);
DROP FUNCTION idempotency.claim_or_lookup(pg_catalog.text, pg_catalog.text, pg_catalog.interval,
                                          pg_catalog.text, pg_catalog.interval);

CREATE FUNCTION idempotency.claim_or_lookup(
    scope pg_catalog.text, key pg_catalog.text, ttl pg_catalog.interval DEFAULT NULL,
    fingerprint pg_catalog.text DEFAULT NULL, lease pg_catalog.interval DEFAULT NULL)
RETURNS SETOF idempotency.claim_state
LANGUAGE c VOLATILE ROWS 1
AS 'MODULE_PATHNAME', 'idempotency_claim_or_lookup';

CREATE FUNCTION idempotency.lookup(scope pg_catalog.text, key pg_catalog.text)
RETURNS SETOF idempotency.guard_state
LANGUAGE c VOLATILE ROWS 1
AS 'MODULE_PATHNAME', 'idempotency_lookup';

REVOKE ALL ON FUNCTION idempotency.claim_or_lookup(pg_catalog.text, pg_catalog.text, pg_catalog.interval, pg_catalog.text, pg_catalog.interval) FROM PUBLIC;
REVOKE ALL ON FUNCTION idempotency.lookup(pg_catalog.text, pg_catalog.text) FROM PUBLIC;

SELECT idempotency.regrant_execute(
           CASE u.function
               WHEN 'lookup' THEN 'idempotency.lookup(pg_catalog.text, pg_catalog.text)'
               ELSE 'idempotency.claim_or_lookup(pg_catalog.text, pg_catalog.text,'
                    ' pg_catalog.interval, pg_catalog.text, pg_catalog.interval)'
           END::pg_catalog.regprocedure,
           u.grantee, u.grantable)
  FROM idempotency.upgrade_grants AS u;

DROP TABLE idempotency.upgrade_grants;
DROP FUNCTION idempotency.execute_grantees(pg_catalog.regprocedure);
DROP FUNCTION idempotency.regrant_execute(pg_catalog.regprocedure, pg_catalog.oid,
                                          pg_catalog.bool);
