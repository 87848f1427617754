-- idempotency 1.1 -> 1.2. A new installation runs 1.0, 1.1 and then this
-- script. Each part below belongs to one capability of 1.2; keep additions
-- inside their part so that the parts stay independent.
\echo Use "ALTER EXTENSION idempotency UPDATE TO '1.2'" to load this file. \quit

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
    fingerprints pg_catalog.text[] DEFAULT NULL, lease pg_catalog.interval DEFAULT NULL)
RETURNS SETOF idempotency.batch_claim_state
LANGUAGE c VOLATILE ROWS 100
AS 'MODULE_PATHNAME', 'idempotency_claim_guards';
REVOKE ALL ON FUNCTION idempotency.claim_guards(pg_catalog.text, pg_catalog.text[], pg_catalog.interval, pg_catalog.text[], pg_catalog.interval) FROM PUBLIC;

-- Whoever may call claim_or_lookup (grant_client, or a DBA's own GRANT) may
-- call claim_guards, granted as the DBA's own grant is (see 1.0 -> 1.1):
-- outside pg_init_privs, so pg_dump keeps dumping it.
CREATE FUNCTION idempotency.regrant_execute(function pg_catalog.regprocedure,
                                            grantee pg_catalog.oid,
                                            grantable pg_catalog.bool)
RETURNS void
LANGUAGE c STRICT VOLATILE
AS 'MODULE_PATHNAME', 'idempotency_regrant_execute';
REVOKE ALL ON FUNCTION idempotency.regrant_execute(pg_catalog.regprocedure, pg_catalog.oid,
                                                   pg_catalog.bool) FROM PUBLIC;

SELECT idempotency.regrant_execute(
           'idempotency.claim_guards(pg_catalog.text, pg_catalog.text[], pg_catalog.interval,'
           ' pg_catalog.text[], pg_catalog.interval)'::pg_catalog.regprocedure,
           a.grantee, a.is_grantable)
  FROM pg_catalog.pg_proc AS p,
       LATERAL pg_catalog.aclexplode(p.proacl) AS a
 WHERE p.oid OPERATOR(pg_catalog.=)
       'idempotency.claim_or_lookup(pg_catalog.text, pg_catalog.text, pg_catalog.interval,'
       ' pg_catalog.text, pg_catalog.interval)'::pg_catalog.regprocedure
   AND a.privilege_type OPERATOR(pg_catalog.=) 'EXECUTE'
   AND a.grantee OPERATOR(pg_catalog.<>) p.proowner;

DROP FUNCTION idempotency.regrant_execute(pg_catalog.regprocedure, pg_catalog.oid,
                                          pg_catalog.bool);

-- grant_client and revoke_client cover claim_guards too.
CREATE OR REPLACE FUNCTION idempotency.grant_client(role pg_catalog.regrole)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
BEGIN
    EXECUTE format('GRANT USAGE ON SCHEMA idempotency TO %s', role);
    EXECUTE format('GRANT EXECUTE ON FUNCTION'
                   ' idempotency.claim_guard(text, text, interval, text, interval),'
                   ' idempotency.claim_or_lookup(text, text, interval, text, interval),'
                   ' idempotency.claim_guards(text, text[], interval, text[], interval),'
                   ' idempotency.record_outcome(text, text, text, jsonb, int8),'
                   ' idempotency.lookup(text, text),'
                   ' idempotency.release_guard(text, text, int8) TO %s', role);
END
$function$;

CREATE OR REPLACE FUNCTION idempotency.revoke_client(role pg_catalog.regrole)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
BEGIN
    EXECUTE format('REVOKE EXECUTE ON FUNCTION'
                   ' idempotency.claim_guard(text, text, interval, text, interval),'
                   ' idempotency.claim_or_lookup(text, text, interval, text, interval),'
                   ' idempotency.claim_guards(text, text[], interval, text[], interval),'
                   ' idempotency.record_outcome(text, text, text, jsonb, int8),'
                   ' idempotency.lookup(text, text),'
                   ' idempotency.release_guard(text, text, int8) FROM %s', role);
    EXECUTE format('REVOKE USAGE ON SCHEMA idempotency FROM %s', role);
END
$function$;

-- == Part 2: event counters ==

-- == Part 3: guardrails (heartbeats, limits, fingerprints) ==

-- == Part 4: Citus ==
