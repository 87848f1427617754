-- What needs the native edition's shared memory (event counters and scope
-- limits) or its C code (Citus). The functions exist with the native signatures (so grants, views
-- and dumps carry over) and raise 0A000 (feature_not_supported). A limit
-- restored from a native dump is not silently ignored: claims in its scopes
-- fail with 55000, as a native server that cannot enforce a limit does.

CREATE FUNCTION idempotency.not_in_portable_edition(feature pg_catalog.text)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $function$
BEGIN
    RAISE EXCEPTION '% not available in the portable edition of idempotency', feature
        USING ERRCODE = '0A000',
              HINT = 'They need the native edition''s shared memory (shared_preload_libraries).';
END
$function$;

CREATE FUNCTION idempotency.counters_rows()
RETURNS TABLE (scope pg_catalog.text, kind pg_catalog.text, since pg_catalog.timestamptz,
    claimed_new pg_catalog.int8, claimed_after_expiry pg_catalog.int8, claimed_after_lease pg_catalog.int8,
    refused_pending pg_catalog.int8, refused_completed pg_catalog.int8, replayed pg_catalog.int8,
    key_reused pg_catalog.int8, no_live_guard pg_catalog.int8, outcome_already_recorded pg_catalog.int8,
    stale_owner_fenced pg_catalog.int8, succeeded pg_catalog.int8, failed pg_catalog.int8,
    released pg_catalog.int8, purged_by_worker pg_catalog.int8, purged_by_hand pg_catalog.int8,
    limit_reached pg_catalog.int8, waited pg_catalog.int8)
LANGUAGE plpgsql VOLATILE STRICT
SET search_path = pg_catalog, pg_temp
AS $function$
BEGIN
    PERFORM idempotency.not_in_portable_edition('event counters are');
END
$function$;

CREATE FUNCTION idempotency.reset_counters(scope pg_catalog.text DEFAULT NULL)
RETURNS pg_catalog.bool
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $function$
BEGIN
    PERFORM idempotency.not_in_portable_edition('event counters are');
    RETURN NULL;
END
$function$;

CREATE FUNCTION idempotency.set_limits(scope pg_catalog.text,
                                       max_live pg_catalog.int8 DEFAULT NULL,
                                       max_pending pg_catalog.int8 DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $function$
BEGIN
    PERFORM idempotency.not_in_portable_edition('scope limits are');
END
$function$;

-- Removes a limit restored from a native dump (false if there was none).
CREATE FUNCTION idempotency.drop_limits(scope pg_catalog.text)
RETURNS pg_catalog.bool
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
BEGIN
    IF scope IS NULL THEN
        RAISE EXCEPTION 'scope pattern must not be NULL' USING ERRCODE = '22004';
    END IF;
    PERFORM idempotency.require_scope_pattern(scope);
    PERFORM idempotency.require_writable('drop a limit');
    DELETE FROM idempotency.scope_limits AS l WHERE l.pattern = drop_limits.scope;
    RETURN FOUND;
END
$function$;

CREATE FUNCTION idempotency.limit_usage()
RETURNS TABLE (pattern pg_catalog.text, live pg_catalog.int8, pending pg_catalog.int8,
               counted_at pg_catalog.timestamptz)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $function$
BEGIN
    PERFORM idempotency.not_in_portable_edition('scope limits are');
END
$function$;

-- 55000 when a limit (restored from a native dump) covers `scope`.
CREATE FUNCTION idempotency.refuse_limited_scope(scope pg_catalog.text)
RETURNS void
LANGUAGE plpgsql STABLE
AS $function$
DECLARE
    pattern pg_catalog.text;
BEGIN
    SELECT l.pattern INTO pattern FROM idempotency.scope_limits AS l
     WHERE CASE WHEN right(l.pattern, 1) = '*' THEN starts_with(scope, left(l.pattern, -1))
                ELSE l.pattern = scope END
     ORDER BY l.pattern LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'the limit "%" applies to scope "%" but cannot be enforced', pattern, scope
            USING ERRCODE = '55000',
                  DETAIL = 'The portable edition of idempotency does not enforce scope limits.',
                  HINT = 'Drop the limit with idempotency.drop_limits(), or use the native edition.';
    END IF;
END
$function$;

-- Citus: out of the portable edition's scope (managed services that offer
-- Citus, such as Azure Cosmos DB for PostgreSQL, run the native edition's
-- extension list; the portable functions are not distributed).
CREATE FUNCTION idempotency.distribute(by pg_catalog.text DEFAULT 'key',
                                       colocate_with pg_catalog.regclass DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $function$
BEGIN
    PERFORM idempotency.not_in_portable_edition('distribute() (Citus) is');
END
$function$;
