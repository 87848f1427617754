-- idempotency 1.2 -> 1.3. A new installation runs 1.0, 1.1, 1.2 and then
-- this script. Each part below belongs to one change of 1.3.
\echo Use "ALTER EXTENSION idempotency UPDATE TO '1.3'" to load this file. \quit

-- == Part 1: one C symbol per SQL declaration ==

-- claim_guard() and claim_or_lookup() are bound to C symbols of their own
-- (as pg_stat_statements does), so that the library never has to guess which
-- version's declaration called it. Same signatures, defaults, results and
-- grants: CREATE OR REPLACE changes only the symbol. The symbols the 1.0 to
-- 1.2 declarations name stay in the library for databases not updated yet
-- (src/glue/schema_versions.hpp).
CREATE OR REPLACE FUNCTION idempotency.claim_guard(
    scope pg_catalog.text, key pg_catalog.text, ttl pg_catalog.interval DEFAULT NULL,
    fingerprint pg_catalog.text DEFAULT NULL, lease pg_catalog.interval DEFAULT NULL,
    attempt pg_catalog.text DEFAULT NULL)
RETURNS pg_catalog.bool
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'idempotency_claim_guard_1_3';

CREATE OR REPLACE FUNCTION idempotency.claim_or_lookup(
    scope pg_catalog.text, key pg_catalog.text, ttl pg_catalog.interval DEFAULT NULL,
    fingerprint pg_catalog.text DEFAULT NULL, lease pg_catalog.interval DEFAULT NULL,
    attempt pg_catalog.text DEFAULT NULL, wait pg_catalog.interval DEFAULT NULL)
RETURNS SETOF idempotency.claim_state
LANGUAGE c VOLATILE ROWS 1
AS 'MODULE_PATHNAME', 'idempotency_claim_or_lookup_1_3';

-- == Part 2: a NULL role is refused with 22004 ==

-- Before 1.3 a NULL role made the GRANT or REVOKE these functions build
-- unparsable (42601, a syntax error). Now a NULL role raises 22004
-- (null_value_not_allowed), as a NULL argument of the other functions does;
-- not STRICT, which would silently grant or revoke nothing.
CREATE OR REPLACE FUNCTION idempotency.grant_admin(role pg_catalog.regrole)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
BEGIN
    IF role IS NULL THEN
        RAISE EXCEPTION 'idempotency.grant_admin: role must not be NULL' USING ERRCODE = '22004';
    END IF;
    EXECUTE format('GRANT USAGE ON SCHEMA idempotency TO %s', role);
    EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO %s', idempotency.admin_functions(), role);
    PERFORM idempotency.on_workers(format('GRANT EXECUTE ON FUNCTION %s TO %s', idempotency.admin_functions(), role));
    EXECUTE format('GRANT SELECT ON %s TO %s', idempotency.admin_relations(), role);
END
$function$;

CREATE OR REPLACE FUNCTION idempotency.revoke_admin(role pg_catalog.regrole)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
BEGIN
    IF role IS NULL THEN
        RAISE EXCEPTION 'idempotency.revoke_admin: role must not be NULL' USING ERRCODE = '22004';
    END IF;
    EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM %s', idempotency.admin_functions(), role);
    PERFORM idempotency.on_workers(format('REVOKE EXECUTE ON FUNCTION %s FROM %s', idempotency.admin_functions(), role));
    EXECUTE format('REVOKE SELECT ON %s FROM %s', idempotency.admin_relations(), role);
END
$function$;

CREATE OR REPLACE FUNCTION idempotency.grant_client(role pg_catalog.regrole)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
BEGIN
    IF role IS NULL THEN
        RAISE EXCEPTION 'idempotency.grant_client: role must not be NULL' USING ERRCODE = '22004';
    END IF;
    EXECUTE format('GRANT USAGE ON SCHEMA idempotency TO %s', role);
    EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO %s', idempotency.client_functions(), role);
    PERFORM idempotency.on_workers(format('GRANT EXECUTE ON FUNCTION %s TO %s', idempotency.client_functions(), role));
END
$function$;

CREATE OR REPLACE FUNCTION idempotency.revoke_client(role pg_catalog.regrole)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
BEGIN
    IF role IS NULL THEN
        RAISE EXCEPTION 'idempotency.revoke_client: role must not be NULL' USING ERRCODE = '22004';
    END IF;
    EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM %s', idempotency.client_functions(), role);
    PERFORM idempotency.on_workers(format('REVOKE EXECUTE ON FUNCTION %s FROM %s', idempotency.client_functions(), role));
    EXECUTE format('REVOKE USAGE ON SCHEMA idempotency FROM %s', role);
END
$function$;
