-- fingerprint(): the canonical number rule and the caps, on cases the shared
-- json_fingerprint file does not reach. Each digest is compared with the
-- sha256 of the canonical text written out by hand from the rule: plain
-- decimal without trailing fraction zeros up to 100 characters, else
-- [-]D[.DDD]eX.
SELECT idempotency.fingerprint(j::jsonb) = encode(sha256(convert_to(canonical, 'UTF8')), 'hex') AS same,
       canonical
  FROM (VALUES ('1e131071', '1e131071'),
               ('-1.5e200', '-1.5e200'),
               ('1e100', '1e100'),
               ('1e99', '1' || repeat('0', 99)),
               ('1e-101', '1e-101'),
               ('-0.0', '0'),
               ('123.4500', '123.45'),
               ('{"b": 2.50, "a": [1e131071, -1.2e-98]}', '{"a":[1e131071,-1.2e-98],"b":2.5}'),
               ('"tab\there \u0001 \"q\" \\ é"', '"tab\there \u0001 \"q\" \\ é"'))
       AS c(j, canonical);
-- 101 significant digits: exponent form with every digit.
SELECT idempotency.fingerprint(('1' || repeat('2', 100))::jsonb)
     = encode(sha256(convert_to('1.' || repeat('2', 100) || 'e100', 'UTF8')), 'hex') AS long_integer;
-- Caps: at most 1000 paths, a canonical text of at most 64MB (a string of
-- 67108862 characters and its two quotes is exactly 64MB): 54000 past them.
\set VERBOSITY sqlstate
SELECT idempotency.fingerprint('{}', array_fill('/a'::text, ARRAY[1001]));
SELECT idempotency.fingerprint(to_jsonb(repeat('x', 67108863)));
\set VERBOSITY default
SELECT length(idempotency.fingerprint('{"a": 1}', array_fill('/a'::text, ARRAY[1000]))) AS paths_at_cap,
       length(idempotency.fingerprint(to_jsonb(repeat('x', 67108862)))) AS text_at_cap;
