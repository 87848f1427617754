-- idempotency 1.0: atomic at-most-once guards.
-- Every name below is schema-qualified: this script must not depend on the
-- search_path of whoever runs CREATE EXTENSION.
\echo Use "CREATE EXTENSION idempotency" to load this file. \quit

-- Refuse a schema "idempotency" that someone made beforehand: its owner could
-- have planted look-alike overloads (say claim_guard(varchar, varchar)) that
-- callers would reach instead of the extension's functions. An empty schema
-- owned by the installing role (as DROP EXTENSION leaves it) is fine.
DO $check$
BEGIN
    IF (SELECT n.nspowner FROM pg_catalog.pg_namespace AS n
         WHERE n.nspname OPERATOR(pg_catalog.=) 'idempotency')
       OPERATOR(pg_catalog.<>)
       (SELECT r.oid FROM pg_catalog.pg_roles AS r
         WHERE r.rolname OPERATOR(pg_catalog.=) CURRENT_USER)
       OR EXISTS (SELECT FROM pg_catalog.pg_class AS c
                   WHERE c.relnamespace OPERATOR(pg_catalog.=) 'idempotency'::pg_catalog.regnamespace)
       OR EXISTS (SELECT FROM pg_catalog.pg_proc AS p
                   WHERE p.pronamespace OPERATOR(pg_catalog.=) 'idempotency'::pg_catalog.regnamespace)
       OR EXISTS (SELECT FROM pg_catalog.pg_type AS t
                   WHERE t.typnamespace OPERATOR(pg_catalog.=) 'idempotency'::pg_catalog.regnamespace)
       OR EXISTS (SELECT FROM pg_catalog.pg_operator AS o
                   WHERE o.oprnamespace OPERATOR(pg_catalog.=) 'idempotency'::pg_catalog.regnamespace)
    THEN
        RAISE EXCEPTION 'schema "idempotency" already exists, and is not empty or not owned by %',
                        CURRENT_USER
            USING ERRCODE = '55000',
                  HINT = 'Drop or rename the existing schema "idempotency", then run CREATE EXTENSION again.';
    END IF;
END
$check$;

-- One row per (scope, key). A guard is live until expires_at; after that it is
-- invisible and claimable at once, whether or not it has been deleted yet.
-- Keys use the "C" collation: equality is what matters, and byte order makes
-- the primary key cheaper to search than a linguistic collation.
CREATE TABLE idempotency.guards (
    scope            pg_catalog.text COLLATE pg_catalog."C" NOT NULL,
    key              pg_catalog.text COLLATE pg_catalog."C" NOT NULL,
    status           pg_catalog.text NOT NULL,
    fingerprint      pg_catalog.text,
    outcome          pg_catalog.jsonb,
    claim_token      pg_catalog.int8 NOT NULL,
    claimed_at       pg_catalog.timestamptz NOT NULL,
    completed_at     pg_catalog.timestamptz,
    expires_at       pg_catalog.timestamptz NOT NULL,
    lease_expires_at pg_catalog.timestamptz,
    CONSTRAINT guards_pkey PRIMARY KEY (scope, key)
    -- No CHECK constraints: PostgreSQL deserializes a table's CHECK
    -- expressions for every statement, which cost a claim about a quarter
    -- of its CPU (bench/results/profile.md). Only the extension's functions
    -- can write this table; they validate every value, and reading a guard
    -- with an unknown status is an error.
) WITH (
    -- room on each page so recording an outcome is a HOT update
    fillfactor = 90,
    -- guards churn: vacuum after 2% of the table changed, not the default 20%
    autovacuum_vacuum_scale_factor = 0.02,
    autovacuum_vacuum_insert_scale_factor = 0.02,
    autovacuum_analyze_scale_factor = 0.02
);

-- Lets the purge find expired guards without scanning the table.
CREATE INDEX guards_expires_at_idx ON idempotency.guards (expires_at);

-- Per-scope time to live for claims that give no ttl of their own
-- (idempotency.set_retention). redate_pending: the purge worker still has to
-- re-date the scope's live guards (set_retention with apply_to_existing).
CREATE TABLE idempotency.retention_policies (
    scope          pg_catalog.text COLLATE pg_catalog."C" PRIMARY KEY,
    ttl            pg_catalog.interval NOT NULL,
    updated_at     pg_catalog.timestamptz NOT NULL DEFAULT pg_catalog.now(),
    redate_pending pg_catalog.bool NOT NULL DEFAULT false,
    CONSTRAINT retention_policies_ttl_check
        CHECK (ttl OPERATOR(pg_catalog.>) '0'::pg_catalog.interval)
);

-- Per-role scope restrictions (idempotency.restrict_scopes). A role listed
-- here, directly or through a role it has the privileges of, may only use
-- the scopes its patterns match: an exact scope, or a prefix ending in '*'.
-- Roles not listed are unrestricted.
CREATE TABLE idempotency.scope_access (
    role    pg_catalog.regrole NOT NULL,
    pattern pg_catalog.text COLLATE pg_catalog."C" NOT NULL,
    PRIMARY KEY (role, pattern)
);

-- pg_dump keeps the rows of the three tables.
SELECT pg_catalog.pg_extension_config_dump('idempotency.guards', '');
SELECT pg_catalog.pg_extension_config_dump('idempotency.retention_policies', '');
SELECT pg_catalog.pg_extension_config_dump('idempotency.scope_access', '');

-- Every backend caches scope_access and retention_policies; any change to
-- either invalidates the caches, so the next transaction reloads them.
CREATE FUNCTION idempotency.config_changed()
RETURNS trigger
LANGUAGE c
AS 'MODULE_PATHNAME', 'idempotency_config_changed';

CREATE TRIGGER scope_access_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON idempotency.scope_access
    FOR EACH STATEMENT EXECUTE FUNCTION idempotency.config_changed();

CREATE TRIGGER retention_policies_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON idempotency.retention_policies
    FOR EACH STATEMENT EXECUTE FUNCTION idempotency.config_changed();

CREATE FUNCTION idempotency.claim_guard(
    scope pg_catalog.text, key pg_catalog.text, ttl pg_catalog.interval DEFAULT NULL,
    fingerprint pg_catalog.text DEFAULT NULL, lease pg_catalog.interval DEFAULT NULL)
RETURNS pg_catalog.bool
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'idempotency_claim_guard';

CREATE FUNCTION idempotency.claim_or_lookup(
    scope pg_catalog.text, key pg_catalog.text, ttl pg_catalog.interval DEFAULT NULL,
    fingerprint pg_catalog.text DEFAULT NULL, lease pg_catalog.interval DEFAULT NULL)
RETURNS TABLE(claimed pg_catalog.bool, claim_token pg_catalog.int8, status pg_catalog.text,
              outcome pg_catalog.jsonb, claimed_at pg_catalog.timestamptz,
              completed_at pg_catalog.timestamptz, expires_at pg_catalog.timestamptz)
LANGUAGE c VOLATILE ROWS 1
AS 'MODULE_PATHNAME', 'idempotency_claim_or_lookup';

CREATE FUNCTION idempotency.record_outcome(
    scope pg_catalog.text, key pg_catalog.text, status pg_catalog.text,
    outcome pg_catalog.jsonb DEFAULT NULL, claim_token pg_catalog.int8 DEFAULT NULL)
RETURNS pg_catalog.bool
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'idempotency_record_outcome';

CREATE FUNCTION idempotency.lookup(scope pg_catalog.text, key pg_catalog.text)
RETURNS TABLE(scope pg_catalog.text, key pg_catalog.text, status pg_catalog.text,
              fingerprint pg_catalog.text, outcome pg_catalog.jsonb,
              claimed_at pg_catalog.timestamptz, completed_at pg_catalog.timestamptz,
              expires_at pg_catalog.timestamptz)
LANGUAGE c VOLATILE ROWS 1
AS 'MODULE_PATHNAME', 'idempotency_lookup';

CREATE FUNCTION idempotency.release_guard(
    scope pg_catalog.text, key pg_catalog.text, claim_token pg_catalog.int8 DEFAULT NULL)
RETURNS pg_catalog.bool
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'idempotency_release_guard';


-- DBA functions: retention policies, manual purge, and the worker's state.
CREATE FUNCTION idempotency.set_retention(
    scope pg_catalog.text, ttl pg_catalog.interval,
    apply_to_existing pg_catalog.bool DEFAULT false)
RETURNS void
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'idempotency_set_retention';

CREATE FUNCTION idempotency.drop_retention(scope pg_catalog.text)
RETURNS pg_catalog.bool
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'idempotency_drop_retention';

CREATE FUNCTION idempotency.purge_expired(
    batch_size pg_catalog.int4 DEFAULT NULL, max_rows pg_catalog.int8 DEFAULT NULL)
RETURNS pg_catalog.int8
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'idempotency_purge_expired';

CREATE FUNCTION idempotency.restrict_scopes(role pg_catalog.regrole, patterns pg_catalog.text[])
RETURNS void
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'idempotency_restrict_scopes';

CREATE FUNCTION idempotency.unrestrict_scopes(role pg_catalog.regrole)
RETURNS pg_catalog.bool
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'idempotency_unrestrict_scopes';

CREATE FUNCTION idempotency.worker_status()
RETURNS TABLE(database pg_catalog.name, running pg_catalog.bool, pid pg_catalog.int4,
              state pg_catalog.text, last_run_started pg_catalog.timestamptz,
              last_run_finished pg_catalog.timestamptz, last_run_deleted pg_catalog.int8,
              total_deleted pg_catalog.int8, last_error pg_catalog.text,
              next_run pg_catalog.timestamptz)
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'idempotency_worker_status';

-- Per scope: live guards by status, expired guards awaiting the purge, and
-- the oldest pending guard (an unknown outcome an operator may need to chase).
CREATE VIEW idempotency.stats AS
SELECT g.scope,
       pg_catalog.count(*) FILTER (WHERE g.expires_at OPERATOR(pg_catalog.>) pg_catalog.now()
                                     AND g.status OPERATOR(pg_catalog.=) 'pending') AS pending,
       pg_catalog.count(*) FILTER (WHERE g.expires_at OPERATOR(pg_catalog.>) pg_catalog.now()
                                     AND g.status OPERATOR(pg_catalog.=) 'succeeded') AS succeeded,
       pg_catalog.count(*) FILTER (WHERE g.expires_at OPERATOR(pg_catalog.>) pg_catalog.now()
                                     AND g.status OPERATOR(pg_catalog.=) 'failed') AS failed,
       pg_catalog.count(*) FILTER (WHERE g.expires_at OPERATOR(pg_catalog.<=) pg_catalog.now())
           AS expired_awaiting_purge,
       pg_catalog.min(g.claimed_at) FILTER (
           WHERE g.expires_at OPERATOR(pg_catalog.>) pg_catalog.now()
             AND g.status OPERATOR(pg_catalog.=) 'pending') AS oldest_pending_claimed_at
  FROM idempotency.guards AS g
 GROUP BY g.scope;

-- Privileges: nobody but the owner may call anything until a DBA grants it.
-- The client functions run their SQL as the owner of idempotency.guards, so a
-- client role needs no privilege on the tables (and gets none).
REVOKE ALL ON FUNCTION idempotency.claim_guard(pg_catalog.text, pg_catalog.text, pg_catalog.interval, pg_catalog.text, pg_catalog.interval) FROM PUBLIC;
REVOKE ALL ON FUNCTION idempotency.claim_or_lookup(pg_catalog.text, pg_catalog.text, pg_catalog.interval, pg_catalog.text, pg_catalog.interval) FROM PUBLIC;
REVOKE ALL ON FUNCTION idempotency.record_outcome(pg_catalog.text, pg_catalog.text, pg_catalog.text, pg_catalog.jsonb, pg_catalog.int8) FROM PUBLIC;
REVOKE ALL ON FUNCTION idempotency.lookup(pg_catalog.text, pg_catalog.text) FROM PUBLIC;
REVOKE ALL ON FUNCTION idempotency.release_guard(pg_catalog.text, pg_catalog.text, pg_catalog.int8) FROM PUBLIC;
REVOKE ALL ON FUNCTION idempotency.set_retention(pg_catalog.text, pg_catalog.interval, pg_catalog.bool) FROM PUBLIC;
REVOKE ALL ON FUNCTION idempotency.drop_retention(pg_catalog.text) FROM PUBLIC;
REVOKE ALL ON FUNCTION idempotency.purge_expired(pg_catalog.int4, pg_catalog.int8) FROM PUBLIC;
REVOKE ALL ON FUNCTION idempotency.worker_status() FROM PUBLIC;
REVOKE ALL ON FUNCTION idempotency.restrict_scopes(pg_catalog.regrole, pg_catalog.text[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION idempotency.unrestrict_scopes(pg_catalog.regrole) FROM PUBLIC;
REVOKE ALL ON FUNCTION idempotency.config_changed() FROM PUBLIC;
REVOKE ALL ON idempotency.stats FROM PUBLIC;

-- grant_client(role) / revoke_client(role): what a DBA runs to let an
-- application role use the client functions (and only those).
CREATE FUNCTION idempotency.grant_client(role pg_catalog.regrole)
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
                   ' idempotency.release_guard(text, text, int8) TO %s', role);
END
$function$;

CREATE FUNCTION idempotency.revoke_client(role pg_catalog.regrole)
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
                   ' idempotency.release_guard(text, text, int8) FROM %s', role);
    EXECUTE format('REVOKE USAGE ON SCHEMA idempotency FROM %s', role);
END
$function$;

REVOKE ALL ON FUNCTION idempotency.grant_client(pg_catalog.regrole) FROM PUBLIC;
REVOKE ALL ON FUNCTION idempotency.revoke_client(pg_catalog.regrole) FROM PUBLIC;

-- grant_admin(role) / revoke_admin(role): retention policies, manual purge,
-- and read access to the state (worker_status, stats, retention_policies)
-- for a DBA role that is not the extension's owner.
CREATE FUNCTION idempotency.grant_admin(role pg_catalog.regrole)
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
                   ' idempotency.worker_status() TO %s', role);
    EXECUTE format('GRANT SELECT ON idempotency.stats, idempotency.retention_policies,'
                   ' idempotency.scope_access TO %s', role);
END
$function$;

CREATE FUNCTION idempotency.revoke_admin(role pg_catalog.regrole)
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
                   ' idempotency.worker_status() FROM %s', role);
    EXECUTE format('REVOKE SELECT ON idempotency.stats, idempotency.retention_policies,'
                   ' idempotency.scope_access FROM %s', role);
END
$function$;

REVOKE ALL ON FUNCTION idempotency.grant_admin(pg_catalog.regrole) FROM PUBLIC;
REVOKE ALL ON FUNCTION idempotency.revoke_admin(pg_catalog.regrole) FROM PUBLIC;
