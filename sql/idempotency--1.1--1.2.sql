-- idempotency 1.1 -> 1.2. A new installation runs 1.0, 1.1 and then this
-- script. Each part below belongs to one capability of 1.2; keep additions
-- inside their part so that the parts stay independent.
\echo Use "ALTER EXTENSION idempotency UPDATE TO '1.2'" to load this file. \quit

-- == Part 1: batch claims, waits for the first answer, retry-safe claims ==

-- == Part 2: event counters ==

-- == Part 3: guardrails (heartbeats, limits, fingerprints) ==

-- == Part 4: Citus ==

-- idempotency.distribute(by, colocate_with): on a Citus coordinator, spreads
-- the guards over the cluster (distributed by key, or by scope co-located with
-- an application table), makes the two configuration tables reference tables
-- (their cache-invalidation triggers copied to every placement), and
-- delegates the client functions to the node owning the guard's shard.
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
    client_function pg_catalog.text;
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
            USING ERRCODE = '55000', HINT = 'Call idempotency.undistribute() first.';
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

    FOREACH client_function IN ARRAY ARRAY[
        'idempotency.claim_guard(text, text, interval, text, interval)',
        'idempotency.claim_or_lookup(text, text, interval, text, interval)',
        'idempotency.record_outcome(text, text, text, jsonb, bigint)',
        'idempotency.lookup(text, text)',
        'idempotency.release_guard(text, text, bigint)'] LOOP
        PERFORM pg_catalog.create_distributed_function(
            client_function::pg_catalog.regprocedure, distribution_arg_name => by,
            colocate_with => 'idempotency.guards'::pg_catalog.text);
    END LOOP;
END
$function$;

REVOKE ALL ON FUNCTION idempotency.distribute(pg_catalog.text, pg_catalog.regclass) FROM PUBLIC;
