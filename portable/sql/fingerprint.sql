-- fingerprint(): the sha256 of the canonical JSON text, as the native
-- edition computes it (src/core/canonical_json.cpp,
-- src/sql_functions/fingerprint.cpp), so both give the same digests.
-- Strings: jsonb's own string output escapes exactly ", \ and U+0000-U+001F
-- (\b \f \n \r \t, else \u00xx in lowercase hex), which is the canonical
-- form. The database encoding is assumed to be UTF8 (as on every managed
-- service); the digest is of the UTF-8 bytes.

-- A number: PostgreSQL's plain decimal text without trailing fraction zeros
-- (and without a point left alone), "-0" as "0"; past 100 characters the
-- exponent form [-]D[.DDD]eX.
CREATE FUNCTION idempotency.canonical_number(number pg_catalog.numeric)
RETURNS pg_catalog.text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    plain pg_catalog.text := trim_scale(number)::pg_catalog.text;
    sign pg_catalog.text := '';
    whole pg_catalog.text;
    fraction pg_catalog.text;
    digits pg_catalog.text;
    exponent pg_catalog.int8;
BEGIN
    IF plain = '-0' THEN
        RETURN '0';
    END IF;
    IF length(plain) <= 100 THEN
        RETURN plain;
    END IF;
    IF left(plain, 1) = '-' THEN
        sign := '-';
        plain := substr(plain, 2);
    END IF;
    whole := split_part(plain, '.', 1);
    fraction := split_part(plain, '.', 2);
    IF whole <> '0' THEN
        exponent := length(whole) - 1;
    ELSE
        exponent := -(length(fraction) - length(ltrim(fraction, '0')) + 1);
    END IF;
    digits := rtrim(ltrim(whole || fraction, '0'), '0');
    RETURN sign || left(digits, 1)
           || CASE WHEN length(digits) > 1 THEN '.' || substr(digits, 2) ELSE '' END
           || 'e' || exponent;
END
$function$;

CREATE FUNCTION idempotency.canonical_json(value pg_catalog.jsonb)
RETURNS pg_catalog.text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $function$
BEGIN
    CASE jsonb_typeof(value)
    WHEN 'object' THEN
        RETURN '{' || coalesce((SELECT string_agg(to_jsonb(m.key)::pg_catalog.text || ':'
                                                  || idempotency.canonical_json(m.value), ','
                                                  ORDER BY m.key COLLATE "C")
                                  FROM jsonb_each(value) AS m), '') || '}';
    WHEN 'array' THEN
        RETURN '[' || coalesce((SELECT string_agg(idempotency.canonical_json(e.value), ','
                                                  ORDER BY e.ordinality)
                                  FROM jsonb_array_elements(value) WITH ORDINALITY AS e),
                               '') || ']';
    WHEN 'number' THEN
        RETURN idempotency.canonical_number(value::pg_catalog.numeric);
    ELSE
        -- strings, true, false, null: jsonb's text is already canonical
        RETURN value::pg_catalog.text;
    END CASE;
END
$function$;

-- The tokens of a JSON Pointer (RFC 6901), or NULL when it is not one.
CREATE FUNCTION idempotency.json_pointer_tokens(pointer pg_catalog.text)
RETURNS pg_catalog.text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $function$
    SELECT CASE
           WHEN $1 OPERATOR(pg_catalog.=) '' THEN '{}'::pg_catalog.text[]
           WHEN pg_catalog.left($1, 1) OPERATOR(pg_catalog.<>) '/'
                OR $1 OPERATOR(pg_catalog.~) '~([^01]|$)' THEN NULL
           ELSE (SELECT pg_catalog.array_agg(pg_catalog.replace(pg_catalog.replace(t.token, '~1', '/'),
                                                                '~0', '~') ORDER BY t.n)
                   FROM pg_catalog.unnest(pg_catalog.string_to_array(pg_catalog.substr($1, 2), '/'))
                        WITH ORDINALITY AS t(token, n))
           END
$function$;

CREATE FUNCTION idempotency.fingerprint(payload pg_catalog.jsonb,
                                        paths pg_catalog.text[] DEFAULT NULL)
RETURNS pg_catalog.text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    canonical pg_catalog.text;
    pointer pg_catalog.text;
    tokens pg_catalog.text[];
    part pg_catalog.jsonb;
    parts pg_catalog.jsonb := '{}';
BEGIN
    IF payload IS NULL THEN
        RETURN NULL;
    END IF;
    IF paths IS NULL THEN
        canonical := idempotency.canonical_json(payload);
    ELSE
        IF coalesce(cardinality(paths), 0) = 0 THEN
            RAISE EXCEPTION 'paths must not be empty'
                USING ERRCODE = '22023', HINT = 'Pass NULL to fingerprint the whole payload.';
        END IF;
        IF cardinality(paths) > 1000 THEN
            RAISE EXCEPTION 'too many paths: %, the limit is 1000', cardinality(paths)
                USING ERRCODE = '54000';
        END IF;
        FOREACH pointer IN ARRAY paths LOOP
            IF pointer IS NULL THEN
                RAISE EXCEPTION 'a path must not be NULL' USING ERRCODE = '22004';
            END IF;
            tokens := idempotency.json_pointer_tokens(pointer);
            IF tokens IS NULL THEN
                RAISE EXCEPTION 'path "%" is not a JSON Pointer', pointer
                    USING ERRCODE = '22023',
                          DETAIL = 'A path is a JSON Pointer (RFC 6901): "/order/amount", "/items/0/sku", with ~1 for "/" and ~0 for "~" in a key.';
            END IF;
            part := idempotency.json_pointer_part(payload, tokens);
            IF part IS NOT NULL THEN
                parts := parts || jsonb_build_object(pointer, part);
            END IF;
        END LOOP;
        canonical := idempotency.canonical_json(parts);
    END IF;
    IF octet_length(canonical) > 67108864 THEN
        RAISE EXCEPTION 'the canonical text is too long: % bytes, the limit is 64MB', octet_length(canonical)
            USING ERRCODE = '54000';
    END IF;
    RETURN encode(sha256(convert_to(canonical, 'UTF8')), 'hex');
END
$function$;

-- The part of `document` that `tokens` select, or NULL (SQL) when there is
-- none. An array index is digits without a leading zero (RFC 6901).
CREATE FUNCTION idempotency.json_pointer_part(document pg_catalog.jsonb, tokens pg_catalog.text[])
RETURNS pg_catalog.jsonb
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    current_ pg_catalog.jsonb := document;
    token pg_catalog.text;
BEGIN
    FOREACH token IN ARRAY tokens LOOP
        CASE jsonb_typeof(current_)
        WHEN 'object' THEN
            current_ := current_ -> token;
        WHEN 'array' THEN
            IF token !~ '^(0|[1-9][0-9]{0,9})$' OR token::pg_catalog.int8 > 2147483647 THEN
                RETURN NULL;
            END IF;
            current_ := current_ -> token::pg_catalog.int4;
        ELSE
            RETURN NULL;
        END CASE;
        IF current_ IS NULL THEN
            RETURN NULL;
        END IF;
    END LOOP;
    RETURN current_;
END
$function$;
