-- Claims insert into idempotency.guards directly (no SQL statement) while
-- the table is as the extension created it. Whatever a DBA adds to the table
-- (a trigger, a column with a default) makes claims run the SQL INSERT, so
-- it still applies; removing it brings the direct path back.

-- Two claims of one key in one statement: the second sees the first.
SELECT idempotency.claim_guard('changes', 'same') AS first,
       idempotency.claim_guard('changes', 'same') AS second;
-- A claim and a lookup in one statement: the lookup sees the new guard.
SELECT idempotency.claim_guard('changes', 'seen') AS claimed,
       (SELECT status FROM idempotency.lookup('changes', 'seen')) AS status;

-- An audit trigger fires for every claim while it exists.
CREATE FUNCTION public.audit_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE NOTICE 'audit: % %', NEW.scope, NEW.key;
  RETURN NEW;
END $$;
CREATE TRIGGER audit AFTER INSERT ON idempotency.guards
  FOR EACH ROW EXECUTE FUNCTION public.audit_guard();
SELECT idempotency.claim_guard('changes', 'with-trigger') AS claimed;
SELECT idempotency.claim_guard('changes', 'with-trigger') AS retried;
DROP TRIGGER audit ON idempotency.guards;
SELECT idempotency.claim_guard('changes', 'without-trigger') AS claimed;

-- A CHECK constraint a DBA adds is enforced on claims.
ALTER TABLE idempotency.guards ADD CONSTRAINT no_forbidden_keys CHECK (key <> 'forbidden');
\set VERBOSITY terse
SELECT idempotency.claim_guard('changes', 'forbidden');
\set VERBOSITY default
SELECT idempotency.claim_guard('changes', 'allowed') AS claimed;
ALTER TABLE idempotency.guards DROP CONSTRAINT no_forbidden_keys;
SELECT idempotency.claim_guard('changes', 'forbidden') AS claimed_once_dropped;

-- A column with a default is filled in by claims.
ALTER TABLE idempotency.guards ADD COLUMN note text DEFAULT 'from the default';
SELECT idempotency.claim_guard('changes', 'with-column') AS claimed;
SELECT key, note FROM idempotency.guards WHERE scope = 'changes' AND key = 'with-column';
ALTER TABLE idempotency.guards DROP COLUMN note;
SELECT idempotency.claim_guard('changes', 'after-drop') AS claimed,
       idempotency.claim_guard('changes', 'after-drop') AS retried;

-- A default a DBA sets on a column claims leave out applies to claims.
ALTER TABLE idempotency.guards ALTER COLUMN outcome SET DEFAULT '{"from": "default"}';
SELECT idempotency.claim_guard('changes', 'with-default') AS claimed;
SELECT outcome FROM idempotency.guards WHERE scope = 'changes' AND key = 'with-default';
ALTER TABLE idempotency.guards ALTER COLUMN outcome DROP DEFAULT;

-- The result row types are the extension's: changing one is an error (55000),
-- not a row built for the wrong type.
BEGIN;
ALTER TYPE idempotency.guard_state ADD ATTRIBUTE extra int;
\set VERBOSITY sqlstate
SELECT * FROM idempotency.lookup('changes', 'same');
\set VERBOSITY default
ROLLBACK;
SELECT count(*) AS found_after_rollback FROM idempotency.lookup('changes', 'same');

-- Row security forced on the table's owner applies to reads and claims
-- (when the owner is not a superuser: superusers bypass it).
SELECT idempotency.claim_guard('hidden', 'k') AS claimed_before_rls;
CREATE ROLE guard_owner NOLOGIN;
GRANT USAGE ON SCHEMA idempotency TO guard_owner;
GRANT SELECT ON idempotency.retention_policies, idempotency.scope_access TO guard_owner;
ALTER TABLE idempotency.guards OWNER TO guard_owner;
CREATE POLICY not_hidden ON idempotency.guards USING (scope <> 'hidden');
ALTER TABLE idempotency.guards ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
SELECT count(*) AS hidden_found FROM idempotency.lookup('hidden', 'k');
SELECT count(*) AS visible_found FROM idempotency.lookup('changes', 'same');
SELECT idempotency.claim_guard('changes', 'under-rls') AS claimed,
       idempotency.claim_guard('changes', 'under-rls') AS retried;
ALTER TABLE idempotency.guards NO FORCE ROW LEVEL SECURITY, DISABLE ROW LEVEL SECURITY;
DROP POLICY not_hidden ON idempotency.guards;
ALTER TABLE idempotency.guards OWNER TO CURRENT_USER;
REVOKE ALL ON idempotency.retention_policies, idempotency.scope_access FROM guard_owner;
REVOKE ALL ON SCHEMA idempotency FROM guard_owner;
DROP ROLE guard_owner;
SELECT count(*) AS hidden_found_again FROM idempotency.lookup('hidden', 'k');

-- A renamed or retyped column of the extension is an error (55000), not a
-- read of the wrong column.
BEGIN;
ALTER TABLE idempotency.guards RENAME COLUMN fingerprint TO request_hash;
\set VERBOSITY sqlstate
SELECT idempotency.claim_guard('changes', 'renamed');
\set VERBOSITY default
ROLLBACK;
SELECT idempotency.claim_guard('changes', 'renamed') AS claimed_once_restored;

-- Claims and reads go straight to the heap only through the primary key the
-- extension created (a btree on exactly (scope, key), collation "C") and
-- only on a heap table. Anything else runs the SQL statements, which give the
-- same answers; DEBUG1 says why. Each case is rolled back.
SELECT idempotency.claim_guard('changes', 'recorded-before') AS claimed;
SELECT idempotency.record_outcome('changes', 'recorded-before', 'succeeded', '{"n": 1}');
-- The key's columns in the other order: a direct scan by (scope, key) of
-- this index would find nothing.
BEGIN;
ALTER TABLE idempotency.guards DROP CONSTRAINT guards_pkey;
ALTER TABLE idempotency.guards ADD CONSTRAINT guards_pkey PRIMARY KEY (key, scope);
SET LOCAL client_min_messages = debug1;
SELECT idempotency.claim_guard('changes', 'key-reordered') AS claimed;
RESET client_min_messages;
SELECT idempotency.claim_guard('changes', 'key-reordered') AS retried;
SELECT status, outcome FROM idempotency.lookup('changes', 'recorded-before');
SELECT claimed, status, outcome FROM idempotency.claim_or_lookup('changes', 'recorded-before');
ROLLBACK;
-- Another collation.
BEGIN;
ALTER TABLE idempotency.guards ALTER COLUMN key TYPE text COLLATE "POSIX";
SET LOCAL client_min_messages = debug1;
SELECT status FROM idempotency.lookup('changes', 'recorded-before');
RESET client_min_messages;
SELECT idempotency.claim_guard('changes', 'other-collation') AS claimed,
       idempotency.claim_guard('changes', 'other-collation') AS retried;
ROLLBACK;
-- Another table access method (here heap's own handler under another name).
CREATE ACCESS METHOD heap_under_another_name TYPE TABLE HANDLER heap_tableam_handler;
BEGIN;
ALTER TABLE idempotency.guards SET ACCESS METHOD heap_under_another_name;
SET LOCAL client_min_messages = debug1;
SELECT idempotency.claim_guard('changes', 'other-access-method') AS claimed;
RESET client_min_messages;
SELECT idempotency.claim_guard('changes', 'other-access-method') AS retried;
SELECT status FROM idempotency.lookup('changes', 'recorded-before');
ROLLBACK;
DROP ACCESS METHOD heap_under_another_name;

SELECT key, status FROM idempotency.guards WHERE scope = 'changes' ORDER BY key;
DROP FUNCTION public.audit_guard();
