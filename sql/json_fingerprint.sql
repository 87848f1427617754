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

-- Bad paths: 22023 (not a pointer, empty list), 22004 (a NULL path).
\set VERBOSITY sqlstate
SELECT idempotency.fingerprint('{}', '{amount}');
SELECT idempotency.fingerprint('{}', '{/a~2}');
SELECT idempotency.fingerprint('{}', '{}');
SELECT idempotency.fingerprint('{}', ARRAY[NULL]::text[]);
-- A document the server accepts but nested too deep to walk within
-- max_stack_depth: 54001, not a crashed backend.
SELECT pg_catalog.jsonb_typeof((pg_catalog.repeat('[', 8000) || pg_catalog.repeat(']', 8000))::jsonb)
       AS accepted;
SELECT idempotency.fingerprint((pg_catalog.repeat('[', 8000) || pg_catalog.repeat(']', 8000))::jsonb);
\set VERBOSITY default
