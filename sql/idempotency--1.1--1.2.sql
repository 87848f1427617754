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

-- claim_guard() is re-created with the new argument attempt, and
-- claim_or_lookup() with attempt and wait (a retry that meets a pending
-- guard may wait up to `wait` for the first attempt's answer). The roles that
-- could execute them (grant_client, or a DBA's own GRANT, with its grant
-- option) still can. If views or functions depend on them, the DROP stops
-- and names them: drop those, update, re-create them.
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
    attempt pg_catalog.text DEFAULT NULL, wait pg_catalog.interval DEFAULT NULL)
RETURNS SETOF idempotency.claim_state
LANGUAGE c VOLATILE ROWS 1
AS 'MODULE_PATHNAME', 'idempotency_claim_or_lookup';
REVOKE ALL ON FUNCTION idempotency.claim_or_lookup(pg_catalog.text, pg_catalog.text, pg_catalog.interval, pg_catalog.text, pg_catalog.interval, pg_catalog.text, pg_catalog.interval) FROM PUBLIC;

SELECT idempotency.regrant_execute(
           CASE g.function
               WHEN 'claim_guard' THEN
                   'idempotency.claim_guard(pg_catalog.text, pg_catalog.text, pg_catalog.interval,'
                   ' pg_catalog.text, pg_catalog.interval, pg_catalog.text)'
               ELSE
                   'idempotency.claim_or_lookup(pg_catalog.text, pg_catalog.text,'
                   ' pg_catalog.interval, pg_catalog.text, pg_catalog.interval, pg_catalog.text,'
                   ' pg_catalog.interval)'
           END::pg_catalog.regprocedure,
           g.grantee, g.grantable)
  FROM idempotency.claim_grants AS g;
DROP TABLE idempotency.claim_grants;

-- == Part 2: event counters ==

-- One row per scope of this database that has had an event since the server
-- started (or since the counters file was loaded), plus the database's
-- 'unscoped' row (purges) and the server's 'overflow' row (scopes past
-- idempotency.max_tracked_scopes). Counts are not transactional: an event
-- counts when it happens, whether or not its transaction commits.
CREATE FUNCTION idempotency.counters_rows()
RETURNS TABLE (scope pg_catalog.text, kind pg_catalog.text, since pg_catalog.timestamptz,
    claimed_new pg_catalog.int8, claimed_after_expiry pg_catalog.int8, claimed_after_lease pg_catalog.int8,
    refused_pending pg_catalog.int8, refused_completed pg_catalog.int8, replayed pg_catalog.int8,
    key_reused pg_catalog.int8, no_live_guard pg_catalog.int8, outcome_already_recorded pg_catalog.int8,
    stale_owner_fenced pg_catalog.int8, succeeded pg_catalog.int8, failed pg_catalog.int8,
    released pg_catalog.int8, purged_by_worker pg_catalog.int8, purged_by_hand pg_catalog.int8,
    limit_reached pg_catalog.int8, waited pg_catalog.int8)
LANGUAGE c VOLATILE STRICT
AS 'MODULE_PATHNAME', 'idempotency_counters_rows';
REVOKE ALL ON FUNCTION idempotency.counters_rows() FROM PUBLIC;

CREATE VIEW idempotency.counters AS
    SELECT c.* FROM idempotency.counters_rows() AS c;

-- reset_counters(scope): zeroes one scope's counters, or (NULL) all of this
-- database's and the overflow row. Returns false for a scope with no row.
CREATE FUNCTION idempotency.reset_counters(scope pg_catalog.text DEFAULT NULL)
RETURNS pg_catalog.bool
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'idempotency_reset_counters';
REVOKE ALL ON FUNCTION idempotency.reset_counters(text) FROM PUBLIC;

-- Admins read every scope's counters and may reset them. Clients
-- (grant_client) call counters_rows() and so read the view, which filters
-- the rows of scope-restricted roles; the view itself needs no grant.
GRANT SELECT ON idempotency.counters TO PUBLIC;

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

-- Limits on the guards the scopes of a pattern may store (set_limits): an
-- exact scope, or a prefix ending in '*' whose limit covers all its scopes
-- together. NULL: no limit of that kind.
CREATE TABLE idempotency.scope_limits (
    pattern     pg_catalog.text COLLATE pg_catalog."C" PRIMARY KEY,
    max_live    pg_catalog.int8,
    max_pending pg_catalog.int8,
    updated_at  pg_catalog.timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT scope_limits_given
        CHECK (max_live IS NOT NULL OR max_pending IS NOT NULL),
    CONSTRAINT scope_limits_not_negative
        CHECK (max_live OPERATOR(pg_catalog.>=) 0 AND max_pending OPERATOR(pg_catalog.>=) 0)
);
SELECT pg_catalog.pg_extension_config_dump('idempotency.scope_limits', '');

CREATE TRIGGER scope_limits_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON idempotency.scope_limits
    FOR EACH STATEMENT EXECUTE FUNCTION idempotency.config_changed();

CREATE FUNCTION idempotency.set_limits(scope pg_catalog.text,
                                       max_live pg_catalog.int8 DEFAULT NULL,
                                       max_pending pg_catalog.int8 DEFAULT NULL)
RETURNS void
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'idempotency_set_limits';
REVOKE ALL ON FUNCTION idempotency.set_limits(pg_catalog.text, pg_catalog.int8,
                                              pg_catalog.int8) FROM PUBLIC;

CREATE FUNCTION idempotency.drop_limits(scope pg_catalog.text)
RETURNS pg_catalog.bool
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'idempotency_drop_limits';
REVOKE ALL ON FUNCTION idempotency.drop_limits(pg_catalog.text) FROM PUBLIC;

-- The counts behind each limit: stored guards and pending guards of its
-- scopes, as last recounted plus the claims since (NULL: not counted yet).
CREATE FUNCTION idempotency.limit_usage()
RETURNS TABLE (pattern pg_catalog.text, live pg_catalog.int8, pending pg_catalog.int8,
               counted_at pg_catalog.timestamptz)
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'idempotency_limit_usage';
REVOKE ALL ON FUNCTION idempotency.limit_usage() FROM PUBLIC;

CREATE VIEW idempotency.limits AS
    SELECT l.pattern, l.max_live, l.max_pending, u.live, u.pending, u.counted_at,
           l.updated_at
      FROM idempotency.scope_limits AS l
      LEFT JOIN idempotency.limit_usage() AS u ON u.pattern OPERATOR(pg_catalog.=) l.pattern;
REVOKE ALL ON idempotency.limits FROM PUBLIC;

-- == Part 4: Citus ==

-- idempotency.distribute(by, colocate_with): on a Citus coordinator, spreads
-- the guards over the cluster (distributed by key, or by scope co-located with
-- an application table) and makes the three configuration tables reference
-- tables (their cache-invalidation triggers copied to every placement).
-- Calling it again with the same arguments changes nothing.
CREATE FUNCTION idempotency.distribute(by pg_catalog.text DEFAULT 'key',
                                       colocate_with pg_catalog.regclass DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    current_column pg_catalog.text;
    missing pg_catalog.text;
    local_rows_query pg_catalog.text;
    shadowed pg_catalog.text;
BEGIN
    IF by IS NULL OR by NOT IN ('key', 'scope') THEN
        RAISE EXCEPTION 'idempotency.distribute: by must be ''key'' or ''scope'', not %',
                        coalesce(quote_literal(by), 'NULL')
            USING ERRCODE = '22023';
    END IF;
    IF colocate_with IS NOT NULL AND by <> 'scope' THEN
        RAISE EXCEPTION 'idempotency.distribute: colocate_with needs by => ''scope'''
            USING ERRCODE = '22023',
                  HINT = 'Guards distributed by key cannot share shards with a table distributed by tenant.';
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'citus') THEN
        RAISE EXCEPTION 'idempotency.distribute: the citus extension is not installed in this database'
            USING ERRCODE = '55000',
                  HINT = 'CREATE EXTENSION citus on every node first (citus must be first in shared_preload_libraries).';
    END IF;
    IF NOT pg_catalog.citus_is_coordinator() THEN
        RAISE EXCEPTION 'idempotency.distribute: this node is not the Citus coordinator'
            USING ERRCODE = '55000', HINT = 'Run it on the coordinator.';
    END IF;
    SELECT string_agg(format('%s:%s', r.nodename, r.nodeport), ', ' ORDER BY r.nodename, r.nodeport)
      INTO missing
      FROM pg_catalog.run_command_on_workers(
               $$SELECT pg_catalog.count(*) FROM pg_catalog.pg_extension WHERE extname = 'idempotency'$$) AS r
     WHERE NOT r.success OR r.result <> '1';
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'idempotency.distribute: the idempotency extension is missing on %', missing
            USING ERRCODE = '55000',
                  HINT = 'Install and preload the extension on every worker and CREATE EXTENSION idempotency there.';
    END IF;
    -- A worker's own rows in a table not yet distributed would stay in its
    -- local table, hidden once its queries go to the shards: refuse.
    SELECT string_agg(format('(SELECT pg_catalog.count(*) FROM %s)', t.name),
                      ' OPERATOR(pg_catalog.+) ')
      INTO local_rows_query
      FROM pg_catalog.unnest(ARRAY['idempotency.guards', 'idempotency.retention_policies',
                                   'idempotency.scope_access', 'idempotency.scope_limits']) AS t(name)
     WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_dist_partition AS p
                        WHERE p.logicalrelid = t.name::pg_catalog.regclass);
    IF local_rows_query IS NOT NULL THEN
        SELECT string_agg(format('%s:%s (%s rows)', r.nodename, r.nodeport, r.result), ', '
                          ORDER BY r.nodename, r.nodeport)
          INTO shadowed
          FROM pg_catalog.run_command_on_workers('SELECT ' || local_rows_query) AS r
         WHERE NOT r.success OR r.result <> '0';
        IF shadowed IS NOT NULL THEN
            RAISE EXCEPTION 'idempotency.distribute: workers hold rows of their own in the extension''s tables: %', shadowed
                USING ERRCODE = '55000',
                      HINT = 'Once distributed, a worker reads the shards and never these rows: copy what you need to the coordinator, delete them on the workers, and call distribute() again.';
        END IF;
    END IF;

    SELECT a.attname INTO current_column
      FROM pg_catalog.pg_dist_partition AS p
      JOIN pg_catalog.pg_attribute AS a
        ON a.attrelid = p.logicalrelid
       AND a.attname = pg_catalog.column_to_column_name(p.logicalrelid, p.partkey)
     WHERE p.logicalrelid = 'idempotency.guards'::pg_catalog.regclass;
    IF current_column IS NULL THEN
        PERFORM pg_catalog.create_distributed_table(
            'idempotency.guards', by,
            colocate_with => coalesce(colocate_with::pg_catalog.text, 'default'));
    ELSIF current_column <> by THEN
        RAISE EXCEPTION 'idempotency.distribute: idempotency.guards is already distributed by %', current_column
            USING ERRCODE = '55000',
                  HINT = 'Change it with Citus''s alter_distributed_table(''idempotency.guards'', distribution_column => ...).';
    END IF;

    -- Citus refuses triggers on distributed tables unless told they are safe.
    -- These are: config_changed() only sends a cache invalidation on the node
    -- where the placement changed, and every node holds a placement.
    PERFORM set_config('citus.enable_unsafe_triggers', 'on', true);
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_dist_partition
                    WHERE logicalrelid = 'idempotency.retention_policies'::pg_catalog.regclass) THEN
        PERFORM pg_catalog.create_reference_table('idempotency.retention_policies');
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_dist_partition
                    WHERE logicalrelid = 'idempotency.scope_access'::pg_catalog.regclass) THEN
        PERFORM pg_catalog.create_reference_table('idempotency.scope_access');
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_dist_partition
                    WHERE logicalrelid = 'idempotency.scope_limits'::pg_catalog.regclass) THEN
        PERFORM pg_catalog.create_reference_table('idempotency.scope_limits');
    END IF;

    -- The client functions are not delegated (create_distributed_function):
    -- Citus 13.2.2's planner crashes the backend on a delegated call whose
    -- distribution argument is a NULL constant (claim_guard('s', NULL)), and
    -- it refuses to distribute an extension's function without one. Called
    -- on any node, they run there and route their statements to the guard's
    -- shard; grant_client() and the other grant functions run their GRANTs
    -- on the workers themselves (idempotency.on_workers).
END
$function$;

REVOKE ALL ON FUNCTION idempotency.distribute(pg_catalog.text, pg_catalog.regclass) FROM PUBLIC;

-- idempotency.redate_shards(scope, ttl, cutoff): set_retention(...,
-- apply_to_existing => true) once Citus distributed the guards. Citus cannot
-- run the re-dating UPDATE on the distributed table (timestamptz + interval
-- is STABLE), so it runs on every shard placement itself, each committed on
-- its own. Returns the number of guards re-dated.
CREATE FUNCTION idempotency.redate_shards(scope pg_catalog.text, ttl pg_catalog.interval,
                                          cutoff pg_catalog.timestamptz)
RETURNS pg_catalog.int8
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    failure pg_catalog.text;
    changed pg_catalog.int8;
BEGIN
    SELECT sum(CASE WHEN r.success THEN split_part(r.result, ' ', 2)::pg_catalog.int8 END),
           min(CASE WHEN NOT r.success THEN format('%s:%s: %s', r.nodename, r.nodeport, r.result) END)
      INTO changed, failure
      FROM pg_catalog.run_command_on_placements('idempotency.guards', format(
               'UPDATE %%s AS g SET expires_at = g.claimed_at OPERATOR(pg_catalog.+) %1$L::pg_catalog.interval'
               ' WHERE g.scope OPERATOR(pg_catalog.=) %2$L'
               ' AND g.expires_at OPERATOR(pg_catalog.>) pg_catalog.now()'
               ' AND g.expires_at OPERATOR(pg_catalog.<>) (g.claimed_at OPERATOR(pg_catalog.+) %1$L::pg_catalog.interval)'
               ' AND g.claimed_at OPERATOR(pg_catalog.<=) %3$L::pg_catalog.timestamptz',
               ttl, scope, cutoff)) AS r;
    IF failure IS NOT NULL THEN
        RAISE EXCEPTION 'idempotency: re-dating the guards of scope % failed on a shard', scope
            USING ERRCODE = '55000', DETAIL = failure;
    END IF;
    RETURN coalesce(changed, 0);
END
$function$;
REVOKE ALL ON FUNCTION idempotency.redate_shards(pg_catalog.text, pg_catalog.interval,
                                                 pg_catalog.timestamptz) FROM PUBLIC;

-- idempotency.on_workers(command): once distribute() has run, runs `command`
-- on every Citus worker too (when called on the coordinator), and raises the
-- first worker's error. Without Citus, or before distribute(), it does
-- nothing. The grant functions use it for GRANT and REVOKE on functions,
-- which Citus does not propagate for an extension's functions.
CREATE FUNCTION idempotency.on_workers(command pg_catalog.text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    failure pg_catalog.text;
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'citus') THEN
        RETURN;
    END IF;
    IF NOT pg_catalog.citus_is_coordinator()
       OR NOT EXISTS (SELECT FROM pg_catalog.pg_dist_partition
                       WHERE logicalrelid = 'idempotency.guards'::pg_catalog.regclass) THEN
        RETURN;
    END IF;
    SELECT format('%s:%s: %s', r.nodename, r.nodeport, r.result) INTO failure
      FROM pg_catalog.run_command_on_workers(command) AS r
     WHERE NOT r.success
     ORDER BY r.nodename, r.nodeport
     LIMIT 1;
    IF failure IS NOT NULL THEN
        RAISE EXCEPTION 'idempotency: % failed on a worker', command
            USING ERRCODE = '55000', DETAIL = failure;
    END IF;
END
$function$;
REVOKE ALL ON FUNCTION idempotency.on_workers(pg_catalog.text) FROM PUBLIC;

-- == Grants: one list of client and one of admin functions, and the new ones for old roles ==

-- The client functions grant_client() and revoke_client() grant and revoke,
-- listed once.
CREATE FUNCTION idempotency.client_functions()
RETURNS pg_catalog.text
LANGUAGE sql IMMUTABLE
AS $$
    SELECT 'idempotency.claim_guard(text, text, interval, text, interval, text),'
           ' idempotency.claim_or_lookup(text, text, interval, text, interval, text, interval),'
           ' idempotency.claim_guards(text, text[], interval, text[], interval, text),'
           ' idempotency.record_outcome(text, text, text, jsonb, int8),'
           ' idempotency.lookup(text, text),'
           ' idempotency.release_guard(text, text, int8),'
           ' idempotency.extend_lease(text, text, int8, interval),'
           ' idempotency.counters_rows()'
$$;
REVOKE ALL ON FUNCTION idempotency.client_functions() FROM PUBLIC;

-- The DBA functions grant_admin() and revoke_admin() grant and revoke, and
-- the tables and views they grant SELECT on, each listed once.
CREATE FUNCTION idempotency.admin_functions()
RETURNS pg_catalog.text
LANGUAGE sql IMMUTABLE
AS $$
    SELECT 'idempotency.set_retention(text, interval, boolean),'
           ' idempotency.drop_retention(text),'
           ' idempotency.purge_expired(integer, bigint),'
           ' idempotency.restrict_scopes(regrole, text[]),'
           ' idempotency.unrestrict_scopes(regrole),'
           ' idempotency.worker_status(),'
           ' idempotency.counters_rows(),'
           ' idempotency.reset_counters(text),'
           ' idempotency.set_limits(text, bigint, bigint),'
           ' idempotency.drop_limits(text),'
           ' idempotency.limit_usage()'
$$;
REVOKE ALL ON FUNCTION idempotency.admin_functions() FROM PUBLIC;

CREATE FUNCTION idempotency.admin_relations()
RETURNS pg_catalog.text
LANGUAGE sql IMMUTABLE
AS $$
    SELECT 'idempotency.stats, idempotency.retention_policies, idempotency.scope_access,'
           ' idempotency.scope_limits, idempotency.limits'
$$;
REVOKE ALL ON FUNCTION idempotency.admin_relations() FROM PUBLIC;

CREATE OR REPLACE FUNCTION idempotency.grant_admin(role pg_catalog.regrole)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
BEGIN
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
    EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM %s', idempotency.client_functions(), role);
    PERFORM idempotency.on_workers(format('REVOKE EXECUTE ON FUNCTION %s FROM %s', idempotency.client_functions(), role));
    EXECUTE format('REVOKE USAGE ON SCHEMA idempotency FROM %s', role);
END
$function$;

-- Roles that could claim (grant_client, or a DBA's own GRANT) may call the
-- client functions new in 1.2, with the same grant option: extend_lease and
-- counters_rows whoever could call claim_guard, claim_guards whoever could
-- call claim_or_lookup (both as re-created in Part 1, with their grants);
-- and the admin functions new in 1.2 (counters_rows, reset_counters,
-- set_limits, drop_limits, limit_usage) whoever could call set_retention.
-- (SELECT on the new scope_limits table and limits view comes with
-- grant_admin, not with this update: pg_dump would not keep such a grant
-- made here.) regrant_execute makes them as a DBA's own, so pg_dump keeps
-- dumping them.
SELECT idempotency.regrant_execute(n.new_function, a.grantee, a.is_grantable)
  FROM (VALUES ('idempotency.extend_lease(pg_catalog.text, pg_catalog.text, pg_catalog.int8,'
                ' pg_catalog.interval)'::pg_catalog.regprocedure,
                'idempotency.claim_guard(pg_catalog.text, pg_catalog.text, pg_catalog.interval,'
                ' pg_catalog.text, pg_catalog.interval, pg_catalog.text)'::pg_catalog.regprocedure),
               ('idempotency.counters_rows()'::pg_catalog.regprocedure,
                'idempotency.claim_guard(pg_catalog.text, pg_catalog.text, pg_catalog.interval,'
                ' pg_catalog.text, pg_catalog.interval, pg_catalog.text)'::pg_catalog.regprocedure),
               ('idempotency.counters_rows()'::pg_catalog.regprocedure,
                'idempotency.set_retention(pg_catalog.text, pg_catalog.interval,'
                ' pg_catalog.bool)'::pg_catalog.regprocedure),
               ('idempotency.reset_counters(pg_catalog.text)'::pg_catalog.regprocedure,
                'idempotency.set_retention(pg_catalog.text, pg_catalog.interval,'
                ' pg_catalog.bool)'::pg_catalog.regprocedure),
               ('idempotency.set_limits(pg_catalog.text, pg_catalog.int8, pg_catalog.int8)'
                ::pg_catalog.regprocedure,
                'idempotency.set_retention(pg_catalog.text, pg_catalog.interval,'
                ' pg_catalog.bool)'::pg_catalog.regprocedure),
               ('idempotency.drop_limits(pg_catalog.text)'::pg_catalog.regprocedure,
                'idempotency.set_retention(pg_catalog.text, pg_catalog.interval,'
                ' pg_catalog.bool)'::pg_catalog.regprocedure),
               ('idempotency.limit_usage()'::pg_catalog.regprocedure,
                'idempotency.set_retention(pg_catalog.text, pg_catalog.interval,'
                ' pg_catalog.bool)'::pg_catalog.regprocedure),
               ('idempotency.claim_guards(pg_catalog.text, pg_catalog.text[], pg_catalog.interval,'
                ' pg_catalog.text[], pg_catalog.interval, pg_catalog.text)'::pg_catalog.regprocedure,
                'idempotency.claim_or_lookup(pg_catalog.text, pg_catalog.text, pg_catalog.interval,'
                ' pg_catalog.text, pg_catalog.interval, pg_catalog.text, pg_catalog.interval)'
                ::pg_catalog.regprocedure))
       AS n(new_function, granted_like),
       pg_catalog.pg_proc AS p,
       LATERAL pg_catalog.aclexplode(p.proacl) AS a
 WHERE p.oid OPERATOR(pg_catalog.=) n.granted_like
   AND a.privilege_type OPERATOR(pg_catalog.=) 'EXECUTE'
   AND a.grantee OPERATOR(pg_catalog.<>) p.proowner;

DROP FUNCTION idempotency.regrant_execute(pg_catalog.regprocedure, pg_catalog.oid,
                                          pg_catalog.bool);
