-- DROP EXTENSION removes everything the extension made; a new CREATE works
-- in the same session, whose kept plans and caches must follow the new tables.
SELECT idempotency.claim_guard('drop', 'before') AS claimed_before;
SELECT idempotency.restrict_scopes('pg_monitor', ARRAY['x']);
DROP EXTENSION idempotency;
-- The schema stays (PostgreSQL never makes an extension's own schema a
-- member of it), but empty: DROP SCHEMA idempotency removes it.
SELECT (SELECT count(*) FROM pg_class WHERE relnamespace = 'idempotency'::regnamespace)
     + (SELECT count(*) FROM pg_proc WHERE pronamespace = 'idempotency'::regnamespace)
     + (SELECT count(*) FROM pg_type WHERE typnamespace = 'idempotency'::regnamespace)
       AS objects_left_in_schema;
SELECT count(*) AS functions FROM pg_proc WHERE proname IN ('claim_guard', 'lookup', 'purge_expired');
SELECT count(*) AS tables FROM pg_class WHERE relname IN ('guards', 'retention_policies', 'scope_access');
CREATE EXTENSION idempotency;
SELECT idempotency.claim_guard('drop', 'before') AS claimed_again_in_new_table;
SELECT count(*) AS restrictions FROM idempotency.scope_access;
SELECT status FROM idempotency.lookup('drop', 'before');
SELECT idempotency.record_outcome('drop', 'before', 'succeeded') AS recorded;

-- CREATE EXTENSION refuses a schema "idempotency" made by someone else, or
-- one with objects in it: they could shadow the extension's functions.
-- (No CONTEXT lines: PostgreSQL 18 adds the script's line to them.) The
-- refusal names the role running CREATE EXTENSION: a superuser of a fixed
-- name here, not whichever user made the test instance.
DROP EXTENSION idempotency;
\set SHOW_CONTEXT never
CREATE ROLE idem_mallory;
CREATE ROLE idem_installer SUPERUSER;
SET ROLE idem_installer;
ALTER SCHEMA idempotency OWNER TO idem_mallory;
CREATE EXTENSION idempotency;
ALTER SCHEMA idempotency OWNER TO CURRENT_USER;
CREATE FUNCTION idempotency.claim_guard(scope varchar, key varchar) RETURNS boolean
    LANGUAGE sql AS 'SELECT true';
CREATE EXTENSION idempotency;
\set SHOW_CONTEXT errors
DROP FUNCTION idempotency.claim_guard(varchar, varchar);
RESET ROLE;
ALTER SCHEMA idempotency OWNER TO CURRENT_USER;
DROP ROLE idem_mallory, idem_installer;
CREATE EXTENSION idempotency;
SELECT idempotency.claim_guard('drop', 'after-check') AS claimed;

