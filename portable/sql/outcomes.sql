-- The owner's writes and the read: record_outcome(), record_outcomes(),
-- release_guard(), extend_lease() and lookup(), with the decisions of the
-- native edition (src/core/guard_rules.cpp: decide_record, decide_owner_write)
-- and its errors (src/core/guard_conflicts.cpp).

CREATE FUNCTION idempotency.raise_guard_error(kind pg_catalog.text, scope pg_catalog.text,
                                              key pg_catalog.text)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $function$
DECLARE
    guard pg_catalog.text := format('scope "%s", key "%s"', scope, key);
BEGIN
    CASE kind
    WHEN 'no live guard' THEN
        RAISE EXCEPTION 'no live guard to record an outcome for'
            USING ERRCODE = 'IK002', DETAIL = format('There is no unexpired guard for %s.', guard),
                  HINT = 'Claim the guard first; a guard that expired may have been claimed again.';
    WHEN 'no live guard to extend' THEN
        RAISE EXCEPTION 'no live guard to extend the lease of'
            USING ERRCODE = 'IK002', DETAIL = format('There is no unexpired guard for %s.', guard),
                  HINT = 'A guard that expired or was released is no longer yours: stop the work, or claim the key again.';
    WHEN 'stale token' THEN
        RAISE EXCEPTION 'claim token does not match the current claim'
            USING ERRCODE = 'IK004',
                  DETAIL = format('The guard for %s was taken over by another claim since this token was issued.', guard),
                  HINT = 'Stop: another worker owns this key now.';
    WHEN 'conflicting outcome' THEN
        RAISE EXCEPTION 'a different outcome is already recorded for this guard'
            USING ERRCODE = 'IK003', DETAIL = format('Outcomes are write-once; %s already has one.', guard),
                  HINT = 'Read the recorded outcome with idempotency.lookup().';
    WHEN 'release completed' THEN
        RAISE EXCEPTION 'cannot release a guard whose outcome is recorded'
            USING ERRCODE = 'IK003', DETAIL = format('The guard for %s is completed.', guard),
                  HINT = 'Only pending guards can be released; completed ones expire with their ttl.';
    WHEN 'lease of completed' THEN
        RAISE EXCEPTION 'cannot extend the lease of a guard whose outcome is recorded'
            USING ERRCODE = 'IK003', DETAIL = format('The guard for %s is completed.', guard),
                  HINT = 'Only pending guards have leases; stop heartbeating once the outcome is recorded.';
    WHEN 'retries exhausted' THEN
        RAISE EXCEPTION 'could not apply the change to the guard under concurrent updates'
            USING ERRCODE = '40001', DETAIL = format('The guard for %s kept changing.', guard),
                  HINT = 'Retry the transaction.';
    END CASE;
END
$function$;

-- One outcome, checked by the caller: true when recorded now, false when
-- the identical outcome was already recorded.
CREATE FUNCTION idempotency.record_key(scope pg_catalog.text, key pg_catalog.text,
                                       status pg_catalog.text, outcome pg_catalog.jsonb,
                                       claim_token pg_catalog.int8, now_ pg_catalog.timestamptz)
RETURNS pg_catalog.bool
LANGUAGE plpgsql VOLATILE
AS $function$
DECLARE
    g idempotency.guards;
BEGIN
    FOR retry IN 1..8 LOOP
        UPDATE idempotency.guards AS t
           SET status = record_key.status, outcome = record_key.outcome, completed_at = now_
         WHERE t.scope = record_key.scope AND t.key = record_key.key AND t.status = 'pending'
           AND t.expires_at > now_
           AND (record_key.claim_token IS NULL OR t.claim_token = record_key.claim_token);
        IF FOUND THEN
            RETURN true;
        END IF;
        SELECT * INTO g FROM idempotency.guards AS t
         WHERE t.scope = record_key.scope AND t.key = record_key.key;
        IF NOT FOUND OR now_ >= g.expires_at THEN
            PERFORM idempotency.raise_guard_error('no live guard', scope, key);
        ELSIF claim_token IS NOT NULL AND claim_token <> g.claim_token THEN
            PERFORM idempotency.raise_guard_error('stale token', scope, key);
        ELSIF g.status <> 'pending' THEN
            IF g.status = status AND g.outcome IS NOT DISTINCT FROM outcome THEN
                RETURN false;
            END IF;
            PERFORM idempotency.raise_guard_error('conflicting outcome', scope, key);
        END IF;
    END LOOP;
    PERFORM idempotency.raise_guard_error('retries exhausted', scope, key);
END
$function$;

CREATE FUNCTION idempotency.record_outcome(
    scope pg_catalog.text, key pg_catalog.text, status pg_catalog.text,
    outcome pg_catalog.jsonb DEFAULT NULL, claim_token pg_catalog.int8 DEFAULT NULL)
RETURNS pg_catalog.bool
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
BEGIN
    PERFORM idempotency.require_identifier('scope', scope);
    PERFORM idempotency.require_identifier('key', key);
    PERFORM idempotency.require_status(status);
    PERFORM idempotency.require_outcome_size(outcome);
    PERFORM idempotency.require_writable('record an outcome');
    PERFORM idempotency.require_scope_access(scope) FROM idempotency.scope_access LIMIT 1;
    RETURN idempotency.record_key(scope, key, status, outcome, claim_token, clock_timestamp());
END
$function$;

-- All or nothing: an error for one key aborts the statement, and with it
-- every key recorded before it. Keys are taken in byte order.
CREATE FUNCTION idempotency.record_outcomes(
    scope pg_catalog.text, keys pg_catalog.text[], status pg_catalog.text,
    outcomes pg_catalog.jsonb[] DEFAULT NULL, claim_tokens pg_catalog.int8[] DEFAULT NULL)
RETURNS TABLE (ord pg_catalog.int4, key pg_catalog.text, recorded pg_catalog.bool)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER ROWS 100
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    key_count pg_catalog.int4;
    now_ pg_catalog.timestamptz;
    answers pg_catalog.bool[];
    k record;
BEGIN
    PERFORM idempotency.require_identifier('scope', scope);
    key_count := idempotency.require_batch_keys(keys);
    PERFORM idempotency.require_status(status);
    PERFORM idempotency.require_per_key('outcomes', outcomes, key_count);
    FOR i IN 1..coalesce(cardinality(outcomes), 0) LOOP
        PERFORM idempotency.require_outcome_size(outcomes[i]);
    END LOOP;
    PERFORM idempotency.require_per_key('claim_tokens', claim_tokens, key_count);
    IF key_count = 0 THEN
        RETURN;
    END IF;
    PERFORM idempotency.require_writable('record an outcome');
    PERFORM idempotency.require_scope_access(scope) FROM idempotency.scope_access LIMIT 1;
    now_ := clock_timestamp();
    answers := array_fill(NULL::pg_catalog.bool, ARRAY[key_count]);
    FOR k IN SELECT u.key, u.ord::pg_catalog.int4 AS ord
               FROM unnest(keys) WITH ORDINALITY AS u(key, ord)
              ORDER BY u.key COLLATE "C", u.ord LOOP
        answers[k.ord] := idempotency.record_key(scope, k.key, status, outcomes[k.ord],
                                                 claim_tokens[k.ord], now_);
    END LOOP;
    RETURN QUERY
        SELECT u.ord::pg_catalog.int4, u.key, answers[u.ord]
          FROM unnest(keys) WITH ORDINALITY AS u(key, ord)
         ORDER BY u.ord;
END
$function$;

CREATE FUNCTION idempotency.lookup(scope pg_catalog.text, key pg_catalog.text)
RETURNS SETOF idempotency.guard_state
LANGUAGE plpgsql VOLATILE SECURITY DEFINER ROWS 1
SET search_path = pg_catalog, pg_temp
AS $function$
BEGIN
    PERFORM idempotency.require_identifier('scope', scope);
    PERFORM idempotency.require_identifier('key', key);
    PERFORM idempotency.require_scope_access(scope) FROM idempotency.scope_access LIMIT 1;
    RETURN QUERY
        SELECT t.scope, t.key, t.status, t.fingerprint, t.outcome, t.claimed_at, t.completed_at,
               t.expires_at
          FROM idempotency.guards AS t
         WHERE t.scope = lookup.scope AND t.key = lookup.key AND t.expires_at > clock_timestamp();
END
$function$;

-- The owner's decision when its write matched no row: raises, or answers
-- 'gone' (no live guard) or 'retry' (the guard changed under the write).
CREATE FUNCTION idempotency.owner_write_refusal(scope pg_catalog.text, key pg_catalog.text,
                                                claim_token pg_catalog.int8,
                                                now_ pg_catalog.timestamptz,
                                                completed_error pg_catalog.text)
RETURNS pg_catalog.text
LANGUAGE plpgsql VOLATILE
AS $function$
DECLARE
    g idempotency.guards;
BEGIN
    SELECT * INTO g FROM idempotency.guards AS t
     WHERE t.scope = owner_write_refusal.scope AND t.key = owner_write_refusal.key;
    IF NOT FOUND OR now_ >= g.expires_at THEN
        RETURN 'gone';
    END IF;
    IF claim_token IS NOT NULL AND claim_token <> g.claim_token THEN
        PERFORM idempotency.raise_guard_error('stale token', scope, key);
    END IF;
    IF g.status <> 'pending' THEN
        PERFORM idempotency.raise_guard_error(completed_error, scope, key);
    END IF;
    RETURN 'retry';
END
$function$;

CREATE FUNCTION idempotency.release_guard(
    scope pg_catalog.text, key pg_catalog.text, claim_token pg_catalog.int8 DEFAULT NULL)
RETURNS pg_catalog.bool
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    now_ pg_catalog.timestamptz;
BEGIN
    PERFORM idempotency.require_identifier('scope', scope);
    PERFORM idempotency.require_identifier('key', key);
    PERFORM idempotency.require_writable('release a guard');
    now_ := clock_timestamp();
    PERFORM idempotency.require_scope_access(scope) FROM idempotency.scope_access LIMIT 1;
    FOR retry IN 1..8 LOOP
        DELETE FROM idempotency.guards AS t
         WHERE t.scope = release_guard.scope AND t.key = release_guard.key
           AND t.status = 'pending' AND t.expires_at > now_
           AND (release_guard.claim_token IS NULL OR t.claim_token = release_guard.claim_token);
        IF FOUND THEN
            RETURN true;
        END IF;
        IF idempotency.owner_write_refusal(scope, key, claim_token, now_, 'release completed') = 'gone' THEN
            RETURN false;
        END IF;
    END LOOP;
    PERFORM idempotency.raise_guard_error('retries exhausted', scope, key);
END
$function$;

CREATE FUNCTION idempotency.extend_lease(scope pg_catalog.text, key pg_catalog.text,
                                         claim_token pg_catalog.int8,
                                         lease pg_catalog.interval)
RETURNS pg_catalog.timestamptz
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    now_ pg_catalog.timestamptz;
    new_expiry pg_catalog.timestamptz;
BEGIN
    PERFORM idempotency.require_identifier('scope', scope);
    PERFORM idempotency.require_identifier('key', key);
    IF claim_token IS NULL THEN
        RAISE EXCEPTION 'claim_token must not be NULL' USING ERRCODE = '22004';
    END IF;
    IF lease IS NULL THEN
        RAISE EXCEPTION 'lease must not be NULL' USING ERRCODE = '22004';
    END IF;
    PERFORM idempotency.require_writable('extend a lease');
    now_ := clock_timestamp();
    new_expiry := now_ + lease;
    IF new_expiry <= now_ THEN
        RAISE EXCEPTION 'lease must be positive'
            USING ERRCODE = '22023', HINT = 'Pass an interval such as ''10 minutes'', or NULL for the default.';
    END IF;
    PERFORM idempotency.require_scope_access(scope) FROM idempotency.scope_access LIMIT 1;
    FOR retry IN 1..8 LOOP
        UPDATE idempotency.guards AS t SET lease_expires_at = new_expiry
         WHERE t.scope = extend_lease.scope AND t.key = extend_lease.key
           AND t.status = 'pending' AND t.expires_at > now_
           AND t.claim_token = extend_lease.claim_token;
        IF FOUND THEN
            RETURN new_expiry;
        END IF;
        IF idempotency.owner_write_refusal(scope, key, claim_token, now_, 'lease of completed') = 'gone' THEN
            PERFORM idempotency.raise_guard_error('no live guard to extend', scope, key);
        END IF;
    END LOOP;
    PERFORM idempotency.raise_guard_error('retries exhausted', scope, key);
END
$function$;
