-- Argument checks of the portable edition: the same SQLSTATEs and messages as
-- the native edition's src/core/input_validation.cpp.
--
-- Internal helpers, here and in the other files: only the owner may execute
-- them (portable/sql/privileges.sql), and the client and DBA functions that
-- call them pin search_path, so they have no SET clause of their own (it
-- would cost a setting change per call, and keep SQL functions from being
-- inlined).

CREATE FUNCTION idempotency.require_identifier(argument pg_catalog.text, value pg_catalog.text)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $function$
BEGIN
    IF value IS NULL THEN
        RAISE EXCEPTION '% must not be NULL', argument USING ERRCODE = '22004';
    END IF;
    IF value = '' THEN
        RAISE EXCEPTION '% must not be empty', argument
            USING ERRCODE = '22023', HINT = format('A %s is 1 to 255 bytes of text.', argument);
    END IF;
    IF octet_length(value) > 255 THEN
        RAISE EXCEPTION '% is too long: % bytes, the limit is 255 bytes', argument, octet_length(value)
            USING ERRCODE = '22023',
                  HINT = 'Hash long business keys (e.g. with sha256) before using them as keys.';
    END IF;
END
$function$;

CREATE FUNCTION idempotency.require_fingerprint(fingerprint pg_catalog.text)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $function$
BEGIN
    IF fingerprint = '' THEN
        RAISE EXCEPTION 'fingerprint must not be empty'
            USING ERRCODE = '22023', HINT = 'Pass NULL when the request has no fingerprint.';
    END IF;
    IF octet_length(fingerprint) > 1024 THEN
        RAISE EXCEPTION 'fingerprint is too long: % bytes, the limit is 1024 bytes', octet_length(fingerprint)
            USING ERRCODE = '22023',
                  HINT = 'Pass a digest of the request (e.g. its sha256), not the request itself.';
    END IF;
END
$function$;

-- The attempt's sha256 (NULL: no attempt); 16 to 255 bytes.
CREATE FUNCTION idempotency.attempt_digest(attempt pg_catalog.text)
RETURNS pg_catalog.bytea
LANGUAGE plpgsql IMMUTABLE
AS $function$
BEGIN
    IF attempt IS NULL THEN
        RETURN NULL;
    END IF;
    IF octet_length(attempt) NOT BETWEEN 16 AND 255 THEN
        RAISE EXCEPTION 'attempt must be 16 to 255 bytes, not %', octet_length(attempt)
            USING ERRCODE = '22023',
                  HINT = 'Make one unique id (e.g. a UUID) per attempt before its first try, and send it again only when retrying that attempt''s claim.';
    END IF;
    RETURN sha256(convert_to(attempt, 'UTF8'));
END
$function$;

-- 22023 unless now + duration is later than now; 22008 from PostgreSQL when
-- it is out of range.
CREATE FUNCTION idempotency.require_positive(argument pg_catalog.text, duration pg_catalog.interval)
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $function$
DECLARE
    now_ pg_catalog.timestamptz := clock_timestamp();
BEGIN
    IF duration IS NOT NULL AND now_ + duration <= now_ THEN
        RAISE EXCEPTION '% must be positive', argument
            USING ERRCODE = '22023',
                  HINT = 'Pass an interval such as ''10 minutes'', or NULL for the default.';
    END IF;
END
$function$;

-- 25006 on a standby or in a read-only transaction, before anything is written.
CREATE FUNCTION idempotency.require_writable(action pg_catalog.text)
RETURNS void
LANGUAGE plpgsql STABLE
AS $function$
BEGIN
    IF pg_is_in_recovery() THEN
        RAISE EXCEPTION 'cannot % on a standby server', action
            USING ERRCODE = '25006',
                  DETAIL = 'The server is in recovery: guards are read-only here.',
                  HINT = 'Send writes to the primary; idempotency.lookup() works on standbys.';
    END IF;
    IF current_setting('transaction_read_only') = 'on' THEN
        RAISE EXCEPTION 'cannot % in a read-only transaction', action USING ERRCODE = '25006';
    END IF;
END
$function$;

CREATE FUNCTION idempotency.require_status(status pg_catalog.text)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $function$
BEGIN
    IF status IS NULL THEN
        RAISE EXCEPTION 'status must not be NULL' USING ERRCODE = '22004';
    END IF;
    IF status NOT IN ('succeeded', 'failed') THEN
        RAISE EXCEPTION 'status must be ''succeeded'' or ''failed'', not ''%''', status
            USING ERRCODE = '22023';
    END IF;
END
$function$;

-- The native edition's idempotency.max_outcome_size, which only a superuser
-- may raise there. Here any session may SET a placeholder setting, so the
-- setting can only lower the cap: at most 1MB, whatever it says.
CREATE FUNCTION idempotency.require_outcome_size(outcome pg_catalog.jsonb)
RETURNS void
LANGUAGE plpgsql STABLE
AS $function$
DECLARE
    size pg_catalog.int8 := pg_column_size(outcome);
    setting pg_catalog.text := nullif(current_setting('idempotency.max_outcome_size', true), '');
    cap pg_catalog.int8 := least(coalesce(pg_size_bytes(setting), 1048576), 1048576);
BEGIN
    IF size > cap THEN
        RAISE EXCEPTION 'outcome is too large: % bytes, the limit is % bytes', size, cap
            USING ERRCODE = '54000',
                  HINT = 'Store a reference to a large result, or raise idempotency.max_outcome_size.';
    END IF;
END
$function$;

-- A batch's keys: not NULL, one dimension, at most 1000, each a key.
CREATE FUNCTION idempotency.require_batch_keys(keys pg_catalog.text[])
RETURNS pg_catalog.int4
LANGUAGE plpgsql IMMUTABLE
AS $function$
DECLARE
    count_ pg_catalog.int4 := coalesce(cardinality(keys), 0);
    key_ pg_catalog.text;
BEGIN
    IF keys IS NULL THEN
        RAISE EXCEPTION 'keys must not be NULL' USING ERRCODE = '22004';
    END IF;
    PERFORM idempotency.require_one_dimension('keys', keys);
    IF count_ > 1000 THEN
        RAISE EXCEPTION 'too many keys: %, the limit is 1000 a call', count_
            USING ERRCODE = '54000',
                  HINT = 'Split the batch into calls of at most 1000 keys.';
    END IF;
    FOREACH key_ IN ARRAY keys LOOP
        PERFORM idempotency.require_identifier('key', key_);
    END LOOP;
    RETURN count_;
END
$function$;

CREATE FUNCTION idempotency.require_one_dimension(argument pg_catalog.text, entries pg_catalog.anyarray)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $function$
BEGIN
    IF array_ndims(entries) > 1 THEN
        RAISE EXCEPTION '% must be a one-dimensional array', argument USING ERRCODE = '22023';
    END IF;
END
$function$;

-- A per-key array of a batch: NULL (none for every key) or one entry per key.
CREATE FUNCTION idempotency.require_per_key(argument pg_catalog.text, entries pg_catalog.anyarray,
                                            keys pg_catalog.int4)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $function$
BEGIN
    IF entries IS NULL THEN
        RETURN;
    END IF;
    PERFORM idempotency.require_one_dimension(argument, entries);
    IF cardinality(entries) <> keys THEN
        RAISE EXCEPTION '% has % entries for % keys', argument, cardinality(entries), keys
            USING ERRCODE = '22023', HINT = 'Give one entry per key, in the same order (NULL for none).';
    END IF;
END
$function$;

CREATE FUNCTION idempotency.require_scope_pattern(pattern pg_catalog.text)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $function$
BEGIN
    PERFORM idempotency.require_identifier('scope pattern', pattern);
    IF strpos(pattern, '*') NOT IN (0, length(pattern)) THEN
        RAISE EXCEPTION 'scope pattern "%" has a ''*'' before its end', pattern
            USING ERRCODE = '22023', HINT = 'A pattern is an exact scope, or a prefix followed by one ''*''.';
    END IF;
END
$function$;
