-- idempotency 1.1 -> 1.2. A new installation runs 1.0, 1.1 and then this
-- script. Each part below belongs to one capability of 1.2; keep additions
-- inside their part so that the parts stay independent.
\echo Use "ALTER EXTENSION idempotency UPDATE TO '1.2'" to load this file. \quit

-- == Part 1: batch claims, waits for the first answer, retry-safe claims ==

-- == Part 2: event counters ==

-- One row per scope of this database that has had an event since the server
-- started (or since the counters file was loaded), plus the database's
-- 'unscoped' row (purges) and the server's 'overflow' row (scopes past
-- idempotency.max_tracked_scopes). Counts are not transactional: an event
-- counts when it happens, whether or not its transaction commits.
CREATE FUNCTION idempotency.counters_rows()
RETURNS TABLE (scope text, kind text, since timestamptz,
    claimed_new bigint, claimed_after_expiry bigint, claimed_after_lease bigint,
    refused_pending bigint, refused_completed bigint, replayed bigint,
    key_reused bigint, no_live_guard bigint, outcome_already_recorded bigint,
    stale_owner_fenced bigint, succeeded bigint, failed bigint,
    released bigint, purged_by_worker bigint, purged_by_hand bigint)
LANGUAGE c VOLATILE STRICT
AS 'MODULE_PATHNAME', 'idempotency_counters_rows';
REVOKE ALL ON FUNCTION idempotency.counters_rows() FROM PUBLIC;

CREATE VIEW idempotency.counters AS
    SELECT c.* FROM idempotency.counters_rows() AS c;
REVOKE ALL ON idempotency.counters FROM PUBLIC;

-- reset_counters(scope): zeroes one scope's counters, or (NULL) all of this
-- database's and the overflow row. Returns false for a scope with no row.
CREATE FUNCTION idempotency.reset_counters(scope text DEFAULT NULL)
RETURNS boolean
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'idempotency_reset_counters';
REVOKE ALL ON FUNCTION idempotency.reset_counters(text) FROM PUBLIC;

-- Clients read the counters of the scopes they may use; admins read them
-- all and may reset them. The 1.0 grant functions are extended, not replaced
-- in spirit: everything they granted before they still grant.
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
                   ' idempotency.record_outcome(text, text, text, jsonb, int8),'
                   ' idempotency.lookup(text, text),'
                   ' idempotency.release_guard(text, text, int8),'
                   ' idempotency.counters_rows() TO %s', role);
    EXECUTE format('GRANT SELECT ON idempotency.counters TO %s', role);
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
                   ' idempotency.record_outcome(text, text, text, jsonb, int8),'
                   ' idempotency.lookup(text, text),'
                   ' idempotency.release_guard(text, text, int8),'
                   ' idempotency.counters_rows() FROM %s', role);
    EXECUTE format('REVOKE SELECT ON idempotency.counters FROM %s', role);
    EXECUTE format('REVOKE USAGE ON SCHEMA idempotency FROM %s', role);
END
$function$;

CREATE OR REPLACE FUNCTION idempotency.grant_admin(role pg_catalog.regrole)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
BEGIN
    EXECUTE format('GRANT USAGE ON SCHEMA idempotency TO %s', role);
    EXECUTE format('GRANT EXECUTE ON FUNCTION'
                   ' idempotency.set_retention(text, interval, boolean),'
                   ' idempotency.drop_retention(text),'
                   ' idempotency.purge_expired(integer, bigint),'
                   ' idempotency.restrict_scopes(regrole, text[]),'
                   ' idempotency.unrestrict_scopes(regrole),'
                   ' idempotency.worker_status(),'
                   ' idempotency.counters_rows(),'
                   ' idempotency.reset_counters(text) TO %s', role);
    EXECUTE format('GRANT SELECT ON idempotency.stats, idempotency.retention_policies,'
                   ' idempotency.scope_access, idempotency.counters TO %s', role);
END
$function$;

CREATE OR REPLACE FUNCTION idempotency.revoke_admin(role pg_catalog.regrole)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
BEGIN
    EXECUTE format('REVOKE EXECUTE ON FUNCTION'
                   ' idempotency.set_retention(text, interval, boolean),'
                   ' idempotency.drop_retention(text),'
                   ' idempotency.purge_expired(integer, bigint),'
                   ' idempotency.restrict_scopes(regrole, text[]),'
                   ' idempotency.unrestrict_scopes(regrole),'
                   ' idempotency.worker_status(),'
                   ' idempotency.counters_rows(),'
                   ' idempotency.reset_counters(text) FROM %s', role);
    EXECUTE format('REVOKE SELECT ON idempotency.stats, idempotency.retention_policies,'
                   ' idempotency.scope_access, idempotency.counters FROM %s', role);
END
$function$;

-- == Part 3: guardrails (heartbeats, limits, fingerprints) ==

-- == Part 4: Citus ==
