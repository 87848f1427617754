-- DBA functions: retention policies, the manual purge, scope restrictions.
-- grant_admin() grants EXECUTE on them and no table privileges, as in the
-- native edition (whose C code switches to the table owner): here they run
-- as their owner (SECURITY DEFINER) for the same effect.

CREATE FUNCTION idempotency.set_retention(
    scope pg_catalog.text, ttl pg_catalog.interval,
    apply_to_existing pg_catalog.bool DEFAULT false)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    now_ pg_catalog.timestamptz;
BEGIN
    PERFORM idempotency.require_identifier('scope', scope);
    IF ttl IS NULL THEN
        RAISE EXCEPTION 'ttl must not be NULL' USING ERRCODE = '22004';
    END IF;
    IF apply_to_existing IS NULL THEN
        RAISE EXCEPTION 'apply_to_existing must not be NULL' USING ERRCODE = '22004';
    END IF;
    PERFORM idempotency.require_positive('ttl', ttl);
    PERFORM idempotency.require_writable('set a retention policy');
    now_ := clock_timestamp();
    INSERT INTO idempotency.retention_policies AS p (scope, ttl, updated_at, redate_pending)
    VALUES (scope, ttl, now_, false)
    ON CONFLICT ON CONSTRAINT retention_policies_pkey
    DO UPDATE SET ttl = excluded.ttl, updated_at = excluded.updated_at,
                  redate_pending = excluded.redate_pending;
    -- No purge worker here: the caller's transaction re-dates the guards.
    IF apply_to_existing THEN
        UPDATE idempotency.guards AS g SET expires_at = g.claimed_at + set_retention.ttl
         WHERE g.scope = set_retention.scope AND g.expires_at > now_
           AND g.expires_at <> g.claimed_at + set_retention.ttl AND g.claimed_at <= now_;
    END IF;
END
$function$;

CREATE FUNCTION idempotency.drop_retention(scope pg_catalog.text)
RETURNS pg_catalog.bool
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
BEGIN
    PERFORM idempotency.require_identifier('scope', scope);
    PERFORM idempotency.require_writable('drop a retention policy');
    DELETE FROM idempotency.retention_policies AS p WHERE p.scope = drop_retention.scope;
    RETURN FOUND;
END
$function$;

-- Deletes expired guards, oldest first, in statements of batch_size (default
-- idempotency.purge_batch_size, else 10000), at most max_rows, in the
-- caller's transaction; a guard locked by a claim taking it over is skipped.
CREATE FUNCTION idempotency.purge_expired(
    batch_size pg_catalog.int4 DEFAULT NULL, max_rows pg_catalog.int8 DEFAULT NULL)
RETURNS pg_catalog.int8
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    now_ pg_catalog.timestamptz;
    deleted pg_catalog.int8 := 0;
    batch_limit pg_catalog.int8;
    batch pg_catalog.int8;
BEGIN
    batch_size := coalesce(batch_size,
                           nullif(current_setting('idempotency.purge_batch_size', true), '')::pg_catalog.int4,
                           10000);
    IF batch_size <= 0 THEN
        RAISE EXCEPTION 'batch_size must be positive' USING ERRCODE = '22023';
    END IF;
    IF max_rows < 0 THEN
        RAISE EXCEPTION 'max_rows must not be negative' USING ERRCODE = '22023';
    END IF;
    PERFORM idempotency.require_writable('purge expired guards');
    now_ := clock_timestamp();
    LOOP
        batch_limit := least(batch_size, coalesce(max_rows - deleted, batch_size));
        EXIT WHEN batch_limit <= 0;
        DELETE FROM idempotency.guards AS g
         WHERE g.ctid = ANY (ARRAY(
                   SELECT e.ctid FROM idempotency.guards AS e
                    WHERE e.expires_at <= now_
                    ORDER BY e.expires_at LIMIT batch_limit FOR UPDATE SKIP LOCKED))
           AND g.expires_at <= now_;
        GET DIAGNOSTICS batch = ROW_COUNT;
        deleted := deleted + batch;
        EXIT WHEN batch < batch_limit;
    END LOOP;
    RETURN deleted;
END
$function$;

CREATE FUNCTION idempotency.restrict_scopes(role pg_catalog.regrole, patterns pg_catalog.text[])
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    pattern pg_catalog.text;
BEGIN
    IF role IS NULL THEN
        RAISE EXCEPTION 'role must not be NULL' USING ERRCODE = '22004';
    END IF;
    IF patterns IS NULL THEN
        RAISE EXCEPTION 'patterns must not be NULL' USING ERRCODE = '22004';
    END IF;
    IF coalesce(cardinality(patterns), 0) = 0 THEN
        RAISE EXCEPTION 'patterns must not be empty'
            USING ERRCODE = '22023', HINT = 'To lift a role''s restriction, use idempotency.unrestrict_scopes().';
    END IF;
    FOREACH pattern IN ARRAY patterns LOOP
        PERFORM idempotency.require_scope_pattern(pattern);
    END LOOP;
    PERFORM idempotency.require_writable('restrict scopes');
    DELETE FROM idempotency.scope_access AS a WHERE a.role = restrict_scopes.role;
    INSERT INTO idempotency.scope_access (role, pattern)
    SELECT restrict_scopes.role, p.pattern FROM unnest(patterns) AS p(pattern)
    ON CONFLICT DO NOTHING;
END
$function$;

CREATE FUNCTION idempotency.unrestrict_scopes(role pg_catalog.regrole)
RETURNS pg_catalog.bool
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
BEGIN
    IF role IS NULL THEN
        RAISE EXCEPTION 'role must not be NULL' USING ERRCODE = '22004';
    END IF;
    PERFORM idempotency.require_writable('lift a scope restriction');
    DELETE FROM idempotency.scope_access AS a WHERE a.role = unrestrict_scopes.role;
    RETURN FOUND;
END
$function$;
