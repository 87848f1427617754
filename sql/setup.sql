-- Installs the extension and shows exactly what it created.
CREATE EXTENSION idempotency;
SELECT extversion, extrelocatable, extnamespace::regnamespace FROM pg_extension
 WHERE extname = 'idempotency';
SELECT p.proname, pg_get_function_identity_arguments(p.oid) AS arguments,
       pg_get_function_result(p.oid) AS result
  FROM pg_proc p WHERE p.pronamespace = 'idempotency'::regnamespace ORDER BY 1;
SELECT c.relname, c.relkind, c.relpersistence FROM pg_class c
 WHERE c.relnamespace = 'idempotency'::regnamespace ORDER BY 1;
-- Both tables are extension configuration, so pg_dump keeps their rows.
SELECT unnest(extconfig)::regclass FROM pg_extension WHERE extname = 'idempotency' ORDER BY 1;
SHOW idempotency.default_ttl;
SHOW idempotency.max_outcome_size;
SHOW idempotency.wait_slots;
