-- idempotency 1.1 -> 1.2. A new installation runs 1.0, 1.1 and then this
-- script. Each part below belongs to one capability of 1.2; keep additions
-- inside their part so that the parts stay independent.
\echo Use "ALTER EXTENSION idempotency UPDATE TO '1.2'" to load this file. \quit

-- Grants EXECUTE on `function` to `grantee` (0: PUBLIC), WITH GRANT OPTION
-- if `grantable`, as a DBA's own GRANT would be: not recorded as part of the
-- extension (pg_init_privs), so pg_dump keeps dumping it. The parts that
-- re-create client functions and the grants at the end use it; it is dropped
-- at the end of the script.
CREATE FUNCTION idempotency.regrant_execute(function pg_catalog.regprocedure,
                                            grantee pg_catalog.oid,
                                            grantable pg_catalog.bool)
RETURNS void
LANGUAGE c STRICT VOLATILE
AS 'MODULE_PATHNAME', 'idempotency_regrant_execute';
REVOKE ALL ON FUNCTION idempotency.regrant_execute(pg_catalog.regprocedure, pg_catalog.oid,
                                                   pg_catalog.bool) FROM PUBLIC;

-- == Part 1: batch claims, waits for the first answer, retry-safe claims ==

-- claim_guards(scope, keys, ...): one row per key, in input order, with what
-- claim_or_lookup() would answer for it in the same transaction.
CREATE TYPE idempotency.batch_claim_state AS (
    ord          pg_catalog.int4,
    key          pg_catalog.text,
    claimed      pg_catalog.bool,
    claim_token  pg_catalog.int8,
    status       pg_catalog.text,
    outcome      pg_catalog.jsonb,
    claimed_at   pg_catalog.timestamptz,
    completed_at pg_catalog.timestamptz,
    expires_at   pg_catalog.timestamptz
);

CREATE FUNCTION idempotency.claim_guards(
    scope pg_catalog.text, keys pg_catalog.text[], ttl pg_catalog.interval DEFAULT NULL,
    fingerprints pg_catalog.text[] DEFAULT NULL, lease pg_catalog.interval DEFAULT NULL,
    attempt pg_catalog.text DEFAULT NULL)
RETURNS SETOF idempotency.batch_claim_state
LANGUAGE c VOLATILE ROWS 100
AS 'MODULE_PATHNAME', 'idempotency_claim_guards';
REVOKE ALL ON FUNCTION idempotency.claim_guards(pg_catalog.text, pg_catalog.text[], pg_catalog.interval, pg_catalog.text[], pg_catalog.interval, pg_catalog.text) FROM PUBLIC;

-- Retry-safe claims: claim_guard(), claim_or_lookup() and claim_guards()
-- take an attempt id the caller made before its first try. A retry of the
-- claim by that attempt (its answer was lost) gets the pending guard back as
-- its own. The guard stores the attempt's sha256, never the id itself.
ALTER TABLE idempotency.guards ADD COLUMN attempt_digest pg_catalog.bytea;

-- claim_guard() and claim_or_lookup() are re-created with the new argument;
-- the roles that could execute them (grant_client, or a DBA's own GRANT, with
-- its grant option) still can. If views or functions depend on them, the
-- DROP stops and names them: drop those, update, re-create them.
CREATE TABLE idempotency.claim_grants AS
    SELECT p.proname AS function, a.grantee, a.is_grantable AS grantable
      FROM pg_catalog.pg_proc AS p,
           LATERAL pg_catalog.aclexplode(p.proacl) AS a
     WHERE p.oid OPERATOR(pg_catalog.=) ANY (ARRAY[
               'idempotency.claim_guard(pg_catalog.text, pg_catalog.text, pg_catalog.interval,'
               ' pg_catalog.text, pg_catalog.interval)'::pg_catalog.regprocedure,
               'idempotency.claim_or_lookup(pg_catalog.text, pg_catalog.text, pg_catalog.interval,'
               ' pg_catalog.text, pg_catalog.interval)'::pg_catalog.regprocedure])
       AND a.privilege_type OPERATOR(pg_catalog.=) 'EXECUTE'
       AND a.grantee OPERATOR(pg_catalog.<>) p.proowner;

DROP FUNCTION idempotency.claim_guard(pg_catalog.text, pg_catalog.text, pg_catalog.interval,
                                      pg_catalog.text, pg_catalog.interval);
DROP FUNCTION idempotency.claim_or_lookup(pg_catalog.text, pg_catalog.text, pg_catalog.interval,
                                          pg_catalog.text, pg_catalog.interval);

CREATE FUNCTION idempotency.claim_guard(
    scope pg_catalog.text, key pg_catalog.text, ttl pg_catalog.interval DEFAULT NULL,
    fingerprint pg_catalog.text DEFAULT NULL, lease pg_catalog.interval DEFAULT NULL,
    attempt pg_catalog.text DEFAULT NULL)
RETURNS pg_catalog.bool
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'idempotency_claim_guard';
REVOKE ALL ON FUNCTION idempotency.claim_guard(pg_catalog.text, pg_catalog.text, pg_catalog.interval, pg_catalog.text, pg_catalog.interval, pg_catalog.text) FROM PUBLIC;

CREATE FUNCTION idempotency.claim_or_lookup(
    scope pg_catalog.text, key pg_catalog.text, ttl pg_catalog.interval DEFAULT NULL,
    fingerprint pg_catalog.text DEFAULT NULL, lease pg_catalog.interval DEFAULT NULL,
    attempt pg_catalog.text DEFAULT NULL)
RETURNS SETOF idempotency.claim_state
LANGUAGE c VOLATILE ROWS 1
AS 'MODULE_PATHNAME', 'idempotency_claim_or_lookup';
REVOKE ALL ON FUNCTION idempotency.claim_or_lookup(pg_catalog.text, pg_catalog.text, pg_catalog.interval, pg_catalog.text, pg_catalog.interval, pg_catalog.text) FROM PUBLIC;

SELECT idempotency.regrant_execute(
           pg_catalog.format('idempotency.%I(pg_catalog.text, pg_catalog.text, pg_catalog.interval,'
                             ' pg_catalog.text, pg_catalog.interval, pg_catalog.text)',
                             g.function)::pg_catalog.regprocedure,
           g.grantee, g.grantable)
  FROM idempotency.claim_grants AS g;
DROP TABLE idempotency.claim_grants;

-- == Part 2: event counters ==

-- == Part 3: guardrails (heartbeats, limits, fingerprints) ==

-- extend_lease(): the owner of a pending guard pushes its lease forward.
CREATE FUNCTION idempotency.extend_lease(scope pg_catalog.text, key pg_catalog.text,
                                         claim_token pg_catalog.int8,
                                         lease pg_catalog.interval)
RETURNS pg_catalog.timestamptz
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'idempotency_extend_lease';
REVOKE ALL ON FUNCTION idempotency.extend_lease(pg_catalog.text, pg_catalog.text, pg_catalog.int8,
                                                pg_catalog.interval) FROM PUBLIC;

-- fingerprint(): sha256 (hex) of a JSON value's canonical text, or of the
-- parts JSON Pointers select. A pure function: any role with USAGE on the
-- schema may call it, and it may be used in expressions and indexes.
CREATE FUNCTION idempotency.fingerprint(payload pg_catalog.jsonb,
                                        paths pg_catalog.text[] DEFAULT NULL)
RETURNS pg_catalog.text
LANGUAGE c IMMUTABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'idempotency_fingerprint';

-- == Part 4: Citus ==

-- == Grants: one list of client functions, and the new ones for old clients ==

-- The client functions grant_client() and revoke_client() grant and revoke,
-- listed once.
CREATE FUNCTION idempotency.client_functions()
RETURNS pg_catalog.text
LANGUAGE sql IMMUTABLE
AS $$
    SELECT 'idempotency.claim_guard(text, text, interval, text, interval, text),'
           ' idempotency.claim_or_lookup(text, text, interval, text, interval, text),'
           ' idempotency.claim_guards(text, text[], interval, text[], interval, text),'
           ' idempotency.record_outcome(text, text, text, jsonb, int8),'
           ' idempotency.lookup(text, text),'
           ' idempotency.release_guard(text, text, int8),'
           ' idempotency.extend_lease(text, text, int8, interval)'
$$;
REVOKE ALL ON FUNCTION idempotency.client_functions() FROM PUBLIC;

CREATE OR REPLACE FUNCTION idempotency.grant_client(role pg_catalog.regrole)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
BEGIN
    EXECUTE format('GRANT USAGE ON SCHEMA idempotency TO %s', role);
    EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO %s', idempotency.client_functions(), role);
END
$function$;

CREATE OR REPLACE FUNCTION idempotency.revoke_client(role pg_catalog.regrole)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
BEGIN
    EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM %s', idempotency.client_functions(), role);
    EXECUTE format('REVOKE USAGE ON SCHEMA idempotency FROM %s', role);
END
$function$;

-- Roles that could claim (grant_client, or a DBA's own GRANT) may call the
-- client functions new in 1.2, with the same grant option: extend_lease
-- whoever could call claim_guard, claim_guards whoever could call
-- claim_or_lookup. The grants are made as the DBA's would be, not as the
-- extension's own (regrant_execute, as in the 1.0 -> 1.1 update), so
-- pg_dump keeps dumping them.
SELECT idempotency.regrant_execute(n.new_function, a.grantee, a.is_grantable)
  FROM (VALUES ('idempotency.extend_lease(pg_catalog.text, pg_catalog.text, pg_catalog.int8,'
                ' pg_catalog.interval)'::pg_catalog.regprocedure,
                'idempotency.claim_guard(pg_catalog.text, pg_catalog.text, pg_catalog.interval,'
                ' pg_catalog.text, pg_catalog.interval, pg_catalog.text)'::pg_catalog.regprocedure),
               ('idempotency.claim_guards(pg_catalog.text, pg_catalog.text[], pg_catalog.interval,'
                ' pg_catalog.text[], pg_catalog.interval, pg_catalog.text)'::pg_catalog.regprocedure,
                'idempotency.claim_or_lookup(pg_catalog.text, pg_catalog.text, pg_catalog.interval,'
                ' pg_catalog.text, pg_catalog.interval, pg_catalog.text)'::pg_catalog.regprocedure))
       AS n(new_function, granted_like),
       pg_catalog.pg_proc AS p,
       LATERAL pg_catalog.aclexplode(p.proacl) AS a
 WHERE p.oid OPERATOR(pg_catalog.=) n.granted_like
   AND a.privilege_type OPERATOR(pg_catalog.=) 'EXECUTE'
   AND a.grantee OPERATOR(pg_catalog.<>) p.proowner;

DROP FUNCTION idempotency.regrant_execute(pg_catalog.regprocedure, pg_catalog.oid,
                                          pg_catalog.bool);
