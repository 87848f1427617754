-- Claims: claim_guard(), claim_or_lookup() and claim_guards(), with the rules
-- of the native edition (src/core/guard_rules.cpp, src/claims/guard_claim.cpp)
-- as SQL statements: INSERT ... ON CONFLICT DO NOTHING, then the guard in the
-- way is read and taken over, answered as the attempt's own, or returned.

-- A random positive claim token from gen_random_uuid() (a strong random
-- source, built in since PostgreSQL 13): 60 of its random bits. One
-- expression, so that it is inlined.
CREATE FUNCTION idempotency.new_claim_token()
RETURNS pg_catalog.int8
LANGUAGE sql VOLATILE
AS $function$
    SELECT GREATEST(1, ('x' OPERATOR(pg_catalog.||)
                        pg_catalog.translate(pg_catalog.left(pg_catalog.gen_random_uuid()::pg_catalog.text, 18),
                                             '-', ''))::pg_catalog.bit(64)::pg_catalog.int8
                       OPERATOR(pg_catalog.&) 9223372036854775807)
$function$;

-- The ttl of a claim that gives none: the scope's policy, else
-- idempotency.default_ttl (a placeholder setting here), else 1 day.
CREATE FUNCTION idempotency.default_ttl()
RETURNS pg_catalog.interval
LANGUAGE sql STABLE
AS $function$
    SELECT coalesce(NULLIF(pg_catalog.current_setting('idempotency.default_ttl', true), '')
                        ::pg_catalog.interval,
                    '1 day'::pg_catalog.interval)
$function$;

-- What a claim checks when its first INSERT (claim_key) did not claim: the
-- scope's policy, and whether restrictions or limits exist at all, in one
-- statement. Raises 42501 for a scope the caller may not use and 55000 for a
-- scope a limit applies to (limits are not enforced by this edition). Returns
-- the ttl to use, and whether restrictions or limits exist.
CREATE FUNCTION idempotency.claim_ttl(scope pg_catalog.text, ttl pg_catalog.interval,
                                      OUT resolved pg_catalog.interval,
                                      OUT restricted_or_limited pg_catalog.bool)
LANGUAGE plpgsql STABLE
AS $function$
DECLARE
    policy pg_catalog.interval;
    restricted pg_catalog.bool;
    limited pg_catalog.bool;
BEGIN
    SELECT (SELECT p.ttl FROM idempotency.retention_policies AS p WHERE p.scope = claim_ttl.scope),
           EXISTS (SELECT FROM idempotency.scope_access),
           EXISTS (SELECT FROM idempotency.scope_limits)
      INTO policy, restricted, limited;
    IF restricted THEN
        PERFORM idempotency.require_scope_access(scope);
    END IF;
    IF limited THEN
        PERFORM idempotency.refuse_limited_scope(scope);
    END IF;
    resolved := coalesce(ttl, policy, idempotency.default_ttl());
    restricted_or_limited := restricted OR limited;
END
$function$;

-- Whether idempotency.guards has its attempt_digest column (a DBA may drop it).
CREATE FUNCTION idempotency.guards_have_attempts()
RETURNS pg_catalog.bool
LANGUAGE sql STABLE
AS $function$
    SELECT EXISTS (SELECT FROM pg_catalog.pg_attribute AS a
                    WHERE a.attrelid OPERATOR(pg_catalog.=) 'idempotency.guards'::pg_catalog.regclass
                      AND a.attname OPERATOR(pg_catalog.=) 'attempt_digest' AND NOT a.attisdropped)
$function$;

-- One claim of (scope, key), as of now, with the caller's ttl (NULL: the
-- scope's policy, else the default). Arguments are checked by the caller.
--
-- Where no scope restriction and no limit exists (the usual case), the
-- claim of a new key is one statement: an INSERT that finds the ttl itself,
-- and inserts only if scope_access and scope_limits are empty; a key that
-- exists costs one more, its read. Otherwise claim_ttl() checks the scope
-- (raising if it is refused), and the claim goes on as the native
-- edition's: INSERT ... ON CONFLICT DO NOTHING, then the guard in the way is
-- read and taken over, answered as this attempt's own, or returned.
CREATE FUNCTION idempotency.claim_key(scope pg_catalog.text, key pg_catalog.text,
                                      ttl pg_catalog.interval, fingerprint pg_catalog.text,
                                      lease pg_catalog.interval, attempt pg_catalog.bytea)
RETURNS idempotency.claim_state
LANGUAGE plpgsql VOLATILE
AS $function$
DECLARE
    token pg_catalog.int8 := idempotency.new_claim_token();
    now_ pg_catalog.timestamptz := clock_timestamp();
    expiry pg_catalog.timestamptz;
    checked pg_catalog.bool := false;  -- claim_ttl() ran: the scope is allowed, ttl resolved
    restricted_or_limited pg_catalog.bool;
    policy pg_catalog.interval;
    g idempotency.guards;
    answer idempotency.claim_state;
    won pg_catalog.bool := false;
BEGIN
    IF attempt IS NOT NULL THEN
        IF NOT idempotency.guards_have_attempts() THEN
            RAISE EXCEPTION 'the table idempotency.guards has no attempt_digest column'
                USING ERRCODE = '55000',
                      HINT = 'Run ALTER EXTENSION idempotency UPDATE; if the column was dropped, add it back: ALTER TABLE idempotency.guards ADD COLUMN attempt_digest bytea.';
        END IF;
    ELSE
        -- One statement: the configuration, and the INSERT when no scope is
        -- restricted or limited. (attempt_digest left out, so a table whose
        -- column a DBA dropped still takes claims.)
        WITH config AS (
            SELECT (SELECT p.ttl FROM idempotency.retention_policies AS p
                     WHERE p.scope = claim_key.scope) AS policy,
                   EXISTS (SELECT FROM idempotency.scope_access)
                   OR EXISTS (SELECT FROM idempotency.scope_limits) AS guarded),
        inserted AS (
            INSERT INTO idempotency.guards AS t
                   (scope, key, status, fingerprint, claim_token, claimed_at, expires_at, lease_expires_at)
            SELECT claim_key.scope, claim_key.key, 'pending', claim_key.fingerprint, token, now_,
                   now_ + coalesce(claim_key.ttl, c.policy, idempotency.default_ttl()), now_ + lease
              FROM config AS c
             WHERE NOT c.guarded
            ON CONFLICT ON CONSTRAINT guards_pkey DO NOTHING
            RETURNING t.expires_at)
        SELECT c.policy, c.guarded, (SELECT i.expires_at FROM inserted AS i)
          INTO policy, restricted_or_limited, expiry
          FROM config AS c;
        won := expiry IS NOT NULL;
        -- Not claimed, and nothing to check: a guard is in the way.
        IF NOT won AND NOT restricted_or_limited THEN
            ttl := coalesce(ttl, policy, idempotency.default_ttl());
            checked := true;
        END IF;
    END IF;
    IF NOT won AND NOT checked THEN
        SELECT c.resolved, c.restricted_or_limited INTO ttl, restricted_or_limited
          FROM idempotency.claim_ttl(scope, ttl) AS c;
        checked := true;
    END IF;
    FOR retry IN 1..8 LOOP
        -- After the first INSERT met a guard, read it at once.
        IF won OR (retry = 1 AND attempt IS NULL AND NOT restricted_or_limited) THEN
            NULL;
        ELSIF attempt IS NULL THEN
            INSERT INTO idempotency.guards AS t
                   (scope, key, status, fingerprint, claim_token, claimed_at, expires_at, lease_expires_at)
            VALUES (scope, key, 'pending', fingerprint, token, now_, now_ + ttl, now_ + lease)
            ON CONFLICT ON CONSTRAINT guards_pkey DO NOTHING
            RETURNING t.expires_at INTO expiry;
            won := FOUND;
        ELSE
            INSERT INTO idempotency.guards AS t
                   (scope, key, status, fingerprint, claim_token, claimed_at, expires_at,
                    lease_expires_at, attempt_digest)
            VALUES (scope, key, 'pending', fingerprint, token, now_, now_ + ttl, now_ + lease, attempt)
            ON CONFLICT ON CONSTRAINT guards_pkey DO NOTHING
            RETURNING t.expires_at INTO expiry;
            won := FOUND;
        END IF;
        IF NOT won THEN
            SELECT * INTO g FROM idempotency.guards AS t
             WHERE t.scope = claim_key.scope AND t.key = claim_key.key;
            CONTINUE WHEN NOT FOUND;  -- deleted since the insert saw it
            now_ := clock_timestamp();  -- the insert may have waited
            IF now_ < g.expires_at AND fingerprint IS NOT NULL AND g.fingerprint IS NOT NULL
               AND fingerprint <> g.fingerprint THEN
                RAISE EXCEPTION 'idempotency key reused for a different request'
                    USING ERRCODE = 'IK001',
                          DETAIL = format('The live guard for scope "%s", key "%s" was claimed at %s with a different fingerprint, and %s.',
                                          scope, key, g.claimed_at,
                                          CASE g.status WHEN 'pending' THEN 'is still pending (no outcome recorded yet)'
                                               ELSE 'has its outcome recorded as ' || g.status END),
                          HINT = 'Use a new key for a new request; reuse a key only to retry the same request.';
            END IF;
            IF now_ >= g.expires_at
               OR (g.status = 'pending' AND g.lease_expires_at IS NOT NULL AND now_ >= g.lease_expires_at) THEN
                expiry := now_ + ttl;
                UPDATE idempotency.guards AS t
                   SET status = 'pending', fingerprint = claim_key.fingerprint, outcome = NULL,
                       claim_token = token, claimed_at = now_, completed_at = NULL,
                       expires_at = expiry, lease_expires_at = now_ + lease
                 WHERE t.scope = claim_key.scope AND t.key = claim_key.key
                   AND t.claim_token = g.claim_token AND t.status = g.status
                   AND t.expires_at = g.expires_at;
                won := FOUND;
                -- The guard is this claim's now: no earlier attempt's digest.
                IF won AND (attempt IS NOT NULL OR idempotency.guards_have_attempts()) THEN
                    UPDATE idempotency.guards AS t SET attempt_digest = attempt
                     WHERE t.scope = claim_key.scope AND t.key = claim_key.key;
                END IF;
            -- (The digest through to_jsonb: a condition naming g.attempt_digest
            -- would fail to parse once a DBA dropped the column.)
            ELSIF g.status = 'pending' AND attempt IS NOT NULL
                  AND to_jsonb(g) ->> 'attempt_digest' = attempt::pg_catalog.text THEN
                -- This attempt's retry: its own claim back; a lease restarts.
                IF lease IS NOT NULL THEN
                    UPDATE idempotency.guards AS t SET lease_expires_at = now_ + lease
                     WHERE t.scope = claim_key.scope AND t.key = claim_key.key
                       AND t.status = 'pending' AND t.expires_at > now_
                       AND t.claim_token = g.claim_token;
                    CONTINUE WHEN NOT FOUND;
                END IF;
                answer := ROW(true, g.claim_token, 'pending', NULL, g.claimed_at, NULL, g.expires_at);
                RETURN answer;
            ELSE
                answer := ROW(false, NULL, g.status, g.outcome, g.claimed_at, g.completed_at, g.expires_at);
                RETURN answer;
            END IF;
        END IF;
        IF won THEN
            -- A claim that waited for a competitor's transaction starts its
            -- ttl and lease when it won, not when it began.
            IF clock_timestamp() - now_ > interval '50 milliseconds' THEN
                IF NOT checked THEN
                    SELECT c.resolved INTO ttl FROM idempotency.claim_ttl(scope, ttl) AS c;
                END IF;
                now_ := clock_timestamp();
                expiry := now_ + ttl;
                UPDATE idempotency.guards AS t
                   SET claimed_at = now_, expires_at = expiry, lease_expires_at = now_ + lease
                 WHERE t.scope = claim_key.scope AND t.key = claim_key.key;
            END IF;
            answer := ROW(true, token, 'pending', NULL, now_, NULL, expiry);
            RETURN answer;
        END IF;
    END LOOP;
    RAISE EXCEPTION 'could not apply the change to the guard under concurrent updates'
        USING ERRCODE = '40001',
              DETAIL = format('The guard for scope "%s", key "%s" kept changing.', scope, key),
              HINT = 'Retry the transaction.';
END
$function$;

-- Whether a claim's arguments need require_claim() (which raises on bad
-- ones): the usual valid call is told no by this one inlined expression.
CREATE FUNCTION idempotency.claim_needs_checks(scope pg_catalog.text, key pg_catalog.text,
                                               ttl pg_catalog.interval, fingerprint pg_catalog.text,
                                               lease pg_catalog.interval)
RETURNS pg_catalog.bool
LANGUAGE sql IMMUTABLE
AS $function$
    SELECT $1 IS NULL OR $2 IS NULL OR $3 IS NOT NULL OR $5 IS NOT NULL
        OR pg_catalog.octet_length($1) NOT BETWEEN 1 AND 255
        OR pg_catalog.octet_length($2) NOT BETWEEN 1 AND 255
        OR coalesce(pg_catalog.octet_length($4) NOT BETWEEN 1 AND 1024, false)
$function$;

-- The checks every single claim makes, in the native edition's order.
CREATE FUNCTION idempotency.require_claim(scope pg_catalog.text, key pg_catalog.text,
                                          ttl pg_catalog.interval, fingerprint pg_catalog.text,
                                          lease pg_catalog.interval)
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $function$
BEGIN
    PERFORM idempotency.require_identifier('scope', scope);
    PERFORM idempotency.require_identifier('key', key);
    PERFORM idempotency.require_fingerprint(fingerprint);
    PERFORM idempotency.require_positive('ttl', ttl);
    PERFORM idempotency.require_positive('lease', lease);
END
$function$;

-- The checks of a single claim's arguments, in the native edition's order,
-- and the attempt's digest (NULL: none).
CREATE FUNCTION idempotency.claim_arguments(scope pg_catalog.text, key pg_catalog.text,
                                            ttl pg_catalog.interval, fingerprint pg_catalog.text,
                                            lease pg_catalog.interval, attempt pg_catalog.text)
RETURNS pg_catalog.bytea
LANGUAGE plpgsql VOLATILE
AS $function$
BEGIN
    IF idempotency.claim_needs_checks(scope, key, ttl, fingerprint, lease) THEN
        PERFORM idempotency.require_claim(scope, key, ttl, fingerprint, lease);
    END IF;
    IF current_setting('transaction_read_only') = 'on' THEN
        -- (the attempt is checked first, as natively)
        PERFORM idempotency.attempt_digest(attempt);
        PERFORM idempotency.require_writable('claim a guard');
    END IF;
    RETURN CASE WHEN attempt IS NOT NULL THEN idempotency.attempt_digest(attempt) END;
END
$function$;

CREATE FUNCTION idempotency.claim_guard(
    scope pg_catalog.text, key pg_catalog.text, ttl pg_catalog.interval DEFAULT NULL,
    fingerprint pg_catalog.text DEFAULT NULL, lease pg_catalog.interval DEFAULT NULL,
    attempt pg_catalog.text DEFAULT NULL)
RETURNS pg_catalog.bool
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    digest pg_catalog.bytea;
BEGIN
    digest := idempotency.claim_arguments(scope, key, ttl, fingerprint, lease, attempt);
    RETURN (idempotency.claim_key(scope, key, ttl, fingerprint, lease, digest)).claimed;
END
$function$;

-- With `wait`, a call that meets a pending guard polls: it claims again after
-- 10 ms, then after twice as long each time up to 200 ms, and never later
-- than the guard's lease or expiry or the end of the wait. Each poll is one
-- claim that writes nothing (the INSERT meets the guard, the SELECT reads it).
CREATE FUNCTION idempotency.claim_or_lookup(
    scope pg_catalog.text, key pg_catalog.text, ttl pg_catalog.interval DEFAULT NULL,
    fingerprint pg_catalog.text DEFAULT NULL, lease pg_catalog.interval DEFAULT NULL,
    attempt pg_catalog.text DEFAULT NULL, wait pg_catalog.interval DEFAULT NULL)
RETURNS SETOF idempotency.claim_state
LANGUAGE plpgsql VOLATILE SECURITY DEFINER ROWS 1
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    digest pg_catalog.bytea;
    started pg_catalog.timestamptz;
    deadline pg_catalog.timestamptz;
    pause pg_catalog.float8 := 0.01;
    wake_up pg_catalog.timestamptz;
    answer idempotency.claim_state;
    guard_expiry pg_catalog.timestamptz;
    guard_lease pg_catalog.timestamptz;
BEGIN
    digest := idempotency.claim_arguments(scope, key, ttl, fingerprint, lease, attempt);
    IF wait IS NOT NULL THEN
        started := clock_timestamp();
        deadline := started + wait;
        IF deadline < started THEN
            RAISE EXCEPTION 'wait must not be negative'
                USING ERRCODE = '22023', HINT = 'Pass an interval such as ''1 second'', or NULL not to wait.';
        END IF;
        IF deadline - started > interval '5 minutes' THEN
            RAISE EXCEPTION 'wait must be at most 5 minutes'
                USING ERRCODE = '22023', HINT = 'Wait in shorter steps, or poll with lookup().';
        END IF;
        IF deadline = started THEN
            deadline := NULL;
        ELSIF current_setting('transaction_isolation') <> 'read committed' THEN
            RAISE EXCEPTION 'claim_or_lookup cannot wait under REPEATABLE READ or SERIALIZABLE'
                USING ERRCODE = '55000',
                      DETAIL = 'The transaction''s snapshot cannot see an outcome recorded after it began.',
                      HINT = 'Call it in a READ COMMITTED transaction (or autocommit), or pass no wait.';
        END IF;
    END IF;
    answer := idempotency.claim_key(scope, key, ttl, fingerprint, lease, digest);
    WHILE deadline IS NOT NULL AND NOT answer.claimed AND answer.status = 'pending'
          AND clock_timestamp() < deadline LOOP
        SELECT t.expires_at, t.lease_expires_at INTO guard_expiry, guard_lease
          FROM idempotency.guards AS t
         WHERE t.scope = claim_or_lookup.scope AND t.key = claim_or_lookup.key;
        wake_up := least(deadline, clock_timestamp() + make_interval(secs => pause),
                         guard_expiry, guard_lease);
        PERFORM pg_sleep(greatest(extract(epoch FROM wake_up - clock_timestamp()), 0));
        pause := least(pause * 2, 0.2);
        answer := idempotency.claim_key(scope, key, ttl, fingerprint, lease, digest);
    END LOOP;
    RETURN NEXT answer;
END
$function$;

-- Keys are claimed in byte order (then input order), whatever the input
-- order, so batches racing on overlapping keys never deadlock. A later
-- occurrence of a key claims without the attempt, so it answers as a retry.
CREATE FUNCTION idempotency.claim_guards(
    scope pg_catalog.text, keys pg_catalog.text[], ttl pg_catalog.interval DEFAULT NULL,
    fingerprints pg_catalog.text[] DEFAULT NULL, lease pg_catalog.interval DEFAULT NULL,
    attempt pg_catalog.text DEFAULT NULL)
RETURNS SETOF idempotency.batch_claim_state
LANGUAGE plpgsql VOLATILE SECURITY DEFINER ROWS 100
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    key_count pg_catalog.int4;
    digest pg_catalog.bytea;
    answers idempotency.claim_state[];
    previous pg_catalog.text;
    k record;
BEGIN
    PERFORM idempotency.require_identifier('scope', scope);
    key_count := idempotency.require_batch_keys(keys);
    PERFORM idempotency.require_per_key('fingerprints', fingerprints, key_count);
    FOR i IN 1..coalesce(cardinality(fingerprints), 0) LOOP
        PERFORM idempotency.require_fingerprint(fingerprints[i]);
    END LOOP;
    PERFORM idempotency.require_positive('ttl', ttl);
    PERFORM idempotency.require_positive('lease', lease);
    digest := idempotency.attempt_digest(attempt);
    IF key_count = 0 THEN
        RETURN;
    END IF;
    PERFORM idempotency.require_writable('claim a guard');
    answers := array_fill(NULL::idempotency.claim_state, ARRAY[key_count]);
    FOR k IN SELECT u.key, u.ord::pg_catalog.int4 AS ord
               FROM unnest(keys) WITH ORDINALITY AS u(key, ord)
              ORDER BY u.key COLLATE "C", u.ord LOOP
        answers[k.ord] := idempotency.claim_key(scope, k.key, ttl, fingerprints[k.ord], lease,
                                                CASE WHEN k.key = previous THEN NULL ELSE digest END);
        previous := k.key;
    END LOOP;
    RETURN QUERY
        SELECT u.ord::pg_catalog.int4, u.key, (answers[u.ord]).*
          FROM unnest(keys) WITH ORDINALITY AS u(key, ord)
         ORDER BY u.ord;
END
$function$;
