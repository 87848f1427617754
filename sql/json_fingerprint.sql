-- fingerprint(payload jsonb, paths text[]): sha256 (hex) of the canonical JSON
-- text. Pinned digests: these must never change (a new digest would turn
-- every stored fingerprint into an IK001). Each was computed independently
-- (Python's hashlib over the canonical text named in the comment).
-- {"amount":100,"currency":"EUR","customer":"alice"}
SELECT idempotency.fingerprint('{"customer": "alice", "currency": "EUR", "amount": 100}');
-- Key order, white space and number spelling do not matter.
SELECT idempotency.fingerprint('{ "amount" : 1e2,"customer":"alice","currency":"EUR" }')
     = idempotency.fingerprint('{"currency": "EUR", "amount": 100.00, "customer": "alice"}')
       AS same_request;
-- {}  null  [1,"x",null,true,false]  "café"  {"a":{"b":[1.5,0]}}
SELECT idempotency.fingerprint('{}') AS empty_object,
       idempotency.fingerprint('null') AS json_null,
       idempotency.fingerprint('[1, "x", null, true, false]') AS array_in_order,
       idempotency.fingerprint('"café"') AS scalar_string,
       idempotency.fingerprint('{"a": {"b": [1.50, -0.0]}}') AS nested;
-- A different value is a different digest; so is a different array order.
SELECT idempotency.fingerprint('{"amount": 100}') <> idempotency.fingerprint('{"amount": 101}')
       AS value_matters,
       idempotency.fingerprint('[1, 2]') <> idempotency.fingerprint('[2, 1]') AS order_matters,
       idempotency.fingerprint('"1"') <> idempotency.fingerprint('1') AS type_matters;
-- Escapes: the same string however it was written.
SELECT idempotency.fingerprint('"caf\u00e9 \"q\" \/"') = idempotency.fingerprint('"café \"q\" /"')
       AS escapes_do_not_matter;

-- paths: only the parts named by JSON Pointers (RFC 6901) count. The digest
-- is that of {pointer: part}; a pointer to no part is left out.
-- {"/amount":100}
SELECT idempotency.fingerprint('{"amount": 100, "request_id": "r-1"}', '{/amount}');
SELECT idempotency.fingerprint('{"amount": 100, "request_id": "r-1", "sent_at": "10:00"}',
                               '{/amount,/customer/id}')
     = idempotency.fingerprint('{"amount": 100, "request_id": "r-2", "sent_at": "10:05"}',
                               '{/customer/id,/amount}') AS other_parts_ignored;
SELECT idempotency.fingerprint('{"items": [{"sku": "a", "qty": 1}, {"sku": "b", "qty": 2}]}',
                               '{/items/1/sku}')
     = idempotency.fingerprint('{"items": [{"sku": "z"}, {"sku": "b"}]}', '{/items/1/sku}')
       AS array_index;
SELECT idempotency.fingerprint('{"a/b": 1, "m~n": 2}', '{/a~1b,/m~0n}')
     <> idempotency.fingerprint('{"a/b": 1, "m~n": 3}', '{/a~1b,/m~0n}') AS escaped_keys;
-- "" is the whole document, as a part.
SELECT idempotency.fingerprint('{"a": 1}', '{""}') = idempotency.fingerprint('{"": {"a": 1}}')
       AS whole_document_part;
-- A NULL payload has no fingerprint (NULL: not compared by claims).
SELECT idempotency.fingerprint(NULL) IS NULL AS null_payload;
-- Usable where claims want it.
SELECT idempotency.claim_guard('fp', 'order-1',
           fingerprint => idempotency.fingerprint('{"amount": 5, "to": "bob"}')) AS claimed;
SELECT idempotency.claim_guard('fp', 'order-1',
           fingerprint => idempotency.fingerprint('{"to": "bob",  "amount": 5.0}')) AS same_retried;
SELECT provolatile, proparallel FROM pg_proc
 WHERE oid = 'idempotency.fingerprint(jsonb, text[])'::regprocedure;

-- Numbers: the plain form (numeric's text without trailing fraction zeros,
-- minus zero as 0) when it has at most 100 characters, as every digest
-- pinned above was computed; past that the exponent form of its
-- significant digits, so 1e131071 is 8 characters, not 131,072.
CREATE FUNCTION pg_temp.sha256_hex(canonical text) RETURNS text LANGUAGE sql AS $$
  SELECT pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(canonical, 'UTF8')), 'hex')
$$;
SELECT idempotency.fingerprint('1e131071') = pg_temp.sha256_hex('1e131071') AS huge,
       idempotency.fingerprint('-1.5e200') = pg_temp.sha256_hex('-1.5e200') AS negative,
       idempotency.fingerprint('1e-16383') = pg_temp.sha256_hex('1e-16383') AS tiny,
       idempotency.fingerprint('[1e99, 1e100, -1e98, -1e99, 1e-98, 1e-99]')
     = pg_temp.sha256_hex('[1' || pg_catalog.repeat('0', 99) || ',1e100,-1' || pg_catalog.repeat('0', 98)
                          || ',-1e99,0.' || pg_catalog.repeat('0', 97) || '1,1e-99]') AS boundaries,
       idempotency.fingerprint(pg_catalog.repeat('1234567890', 15)::jsonb)
     = pg_temp.sha256_hex('1.' || pg_catalog.repeat('2345678901', 14) || '23456789e149') AS integer_150_digits,
       idempotency.fingerprint('{"n": 1.20e-117}') = pg_temp.sha256_hex('{"n":1.2e-117}') AS in_object;
-- The rule computed independently in SQL from numeric's own text, over
-- numbers on both sides of 100 characters, parsed and computed (scales with
-- trailing zeros, quotients).
CREATE FUNCTION pg_temp.plain_number(numeric_text text) RETURNS text LANGUAGE sql AS $$
  SELECT CASE WHEN plain IN ('-0', '0') THEN '0' ELSE plain END
    FROM (SELECT CASE WHEN pg_catalog.strpos(numeric_text, '.') > 0
                      THEN pg_catalog.rtrim(pg_catalog.rtrim(numeric_text, '0'), '.')
                      ELSE numeric_text END AS plain) p
$$;
CREATE FUNCTION pg_temp.canonical_number(numeric_text text) RETURNS text LANGUAGE sql AS $$
  SELECT CASE WHEN pg_catalog.length(plain) <= 100 THEN plain
              ELSE sign || pg_catalog.left(significant, 1)
                   || CASE WHEN pg_catalog.length(significant) > 1
                           THEN '.' || pg_catalog.substr(significant, 2) ELSE '' END
                   || 'e' || (integer_digits - leading_zeros - 1)::text END
    FROM (SELECT plain,
                 CASE WHEN plain LIKE '-%' THEN '-' ELSE '' END AS sign,
                 pg_catalog.rtrim(pg_catalog.ltrim(digits, '0'), '0') AS significant,
                 pg_catalog.length(digits) - pg_catalog.length(pg_catalog.ltrim(digits, '0'))
                   AS leading_zeros,
                 pg_catalog.length(pg_catalog.split_part(pg_catalog.ltrim(plain, '-'), '.', 1))
                   AS integer_digits
            FROM (SELECT plain, pg_catalog.replace(pg_catalog.ltrim(plain, '-'), '.', '') AS digits
                    FROM (SELECT pg_temp.plain_number(numeric_text) AS plain) p) d) parts
$$;
CREATE TEMP TABLE generated_numbers AS
  SELECT n FROM (SELECT (sign || mantissa || 'e' || exponent)::numeric AS base
                   FROM (VALUES (''), ('-')) s(sign),
                        (VALUES ('1'), ('5'), ('12'), ('1.5'), ('9.99'), ('123456789'),
                                ('1000000007'), ('3.14159265358979323846264338327950288'),
                                (pg_catalog.repeat('7', 60)), (pg_catalog.repeat('12', 50)),
                                ('1' || pg_catalog.repeat('0', 40) || '3')) m(mantissa),
                        pg_catalog.generate_series(-150, 150, 3) exponent) b,
         LATERAL (VALUES (base), (base * 1.000), (base / 7), (base + 0.5)) v(n);
SELECT count(*) AS numbers,
       count(*) FILTER (WHERE pg_catalog.length(pg_temp.plain_number(n::text)) <= 100) AS plain,
       count(*) FILTER (WHERE pg_catalog.length(pg_temp.plain_number(n::text)) > 100) AS exponent,
       count(*) FILTER (WHERE idempotency.fingerprint(pg_catalog.to_jsonb(n))
                           <> pg_temp.sha256_hex(pg_temp.canonical_number(n::text))) AS mismatches
  FROM generated_numbers;
-- A part named twice counts once; a NaN numeric is a string in jsonb.
SELECT idempotency.fingerprint('{"a": 1, "b": 2}', '{/a,/b,/a,/a}')
     = idempotency.fingerprint('{"a": 1, "b": 2}', '{/b,/a}') AS duplicates_once,
       idempotency.fingerprint(pg_catalog.to_jsonb('NaN'::numeric)) = idempotency.fingerprint('"NaN"')
       AS nan_is_a_string;
-- At most 1000 paths, duplicates counted: 54000 past it.
SELECT pg_catalog.length(idempotency.fingerprint('{"a": 1}', pg_catalog.array_fill('/a'::text, ARRAY[1000])))
       AS thousand_paths;

-- Bad paths: 22023 (not a pointer, empty list), 22004 (a NULL path).
\set VERBOSITY sqlstate
SELECT idempotency.fingerprint('{}', '{amount}');
SELECT idempotency.fingerprint('{}', '{/a~2}');
SELECT idempotency.fingerprint('{}', '{}');
SELECT idempotency.fingerprint('{}', ARRAY[NULL]::text[]);
SELECT idempotency.fingerprint('{"a": 1}', pg_catalog.array_fill('/a'::text, ARRAY[1001]));
SELECT idempotency.fingerprint('{"a": 1}', (SELECT pg_catalog.array_agg('/' || i) FROM pg_catalog.generate_series(1, 5000) i));
-- A document the server accepts but nested too deep to walk within
-- max_stack_depth: 54001, not a crashed backend.
SELECT pg_catalog.jsonb_typeof((pg_catalog.repeat('[', 8000) || pg_catalog.repeat(']', 8000))::jsonb)
       AS accepted;
SELECT idempotency.fingerprint((pg_catalog.repeat('[', 8000) || pg_catalog.repeat(']', 8000))::jsonb);
\set VERBOSITY default
