-- Scope limits: set_limits, drop_limits, the limits view and IK005. Each
-- block uses its own scopes. A full limit is recounted at most once a
-- second, hence the pg_sleep(1.1) before room given back shows.
\set VERBOSITY terse

-- Bad input: no limit, a negative one, a bad pattern, NULL.
SELECT idempotency.set_limits('lim-bad');
SELECT idempotency.set_limits('lim-bad', max_live => -1);
SELECT idempotency.set_limits('lim*bad', max_live => 1);
SELECT idempotency.set_limits(NULL, max_live => 1);
SELECT count(*) FROM idempotency.scope_limits;

-- At most three guards: the fourth claim fails with IK005 and writes nothing.
SELECT idempotency.set_limits('lim-exact', max_live => 3);
SELECT pattern, max_live, max_pending, live, pending, counted_at IS NULL AS not_counted
  FROM idempotency.limits;
SELECT idempotency.claim_guard('lim-exact', k) FROM (VALUES ('a'), ('b'), ('c')) AS v(k);
\set VERBOSITY default
SELECT idempotency.claim_guard('lim-exact', 'd');
\set VERBOSITY terse
SELECT key FROM idempotency.guards WHERE scope = 'lim-exact' ORDER BY key;
-- A retry of a stored key writes nothing and is answered, not refused.
SELECT idempotency.claim_guard('lim-exact', 'a');
SELECT claimed, status FROM idempotency.claim_or_lookup('lim-exact', 'b');
-- Other scopes are unaffected.
SELECT idempotency.claim_guard('lim-other', 'd');
SELECT pattern, live, pending FROM idempotency.limits;

-- A release gives room back.
SELECT idempotency.release_guard('lim-exact', 'c');
SELECT pg_sleep(1.1);
SELECT idempotency.claim_guard('lim-exact', 'd');
SELECT idempotency.claim_guard('lim-exact', 'e');

-- Rolled-back claims give their room back at once (no recount needed).
SELECT idempotency.set_limits('lim-rollback', max_live => 3);
SELECT idempotency.claim_guard('lim-rollback', 'first');
BEGIN;
SELECT idempotency.claim_guard('lim-rollback', 'x');
SELECT idempotency.claim_guard('lim-rollback', 'y');
ROLLBACK;
BEGIN;
SELECT idempotency.claim_guard('lim-rollback', 'p');
SAVEPOINT before_q;
SELECT idempotency.claim_guard('lim-rollback', 'q');
ROLLBACK TO SAVEPOINT before_q;
SELECT idempotency.claim_guard('lim-rollback', 'r');
COMMIT;
SELECT idempotency.claim_guard('lim-rollback', 's');
SELECT string_agg(key, ',' ORDER BY key) FROM idempotency.guards WHERE scope = 'lim-rollback';

-- Nested savepoints: a released savepoint hands its claims to the one around
-- it, which gives them back when it rolls back; a sibling's rollback gives
-- back only its own.
SELECT idempotency.set_limits('lim-nested', max_live => 5);
SELECT idempotency.claim_guard('lim-nested', 'kept');
BEGIN;
SAVEPOINT outer_sp;
SAVEPOINT inner_sp;
SELECT idempotency.claim_guard('lim-nested', 'a');
RELEASE SAVEPOINT inner_sp;
SAVEPOINT sibling;
SELECT idempotency.claim_guard('lim-nested', 'b');
ROLLBACK TO SAVEPOINT sibling;
SELECT live, pending FROM idempotency.limits WHERE pattern = 'lim-nested';
SELECT idempotency.claim_guard('lim-nested', 'c');
SELECT live, pending FROM idempotency.limits WHERE pattern = 'lim-nested';
ROLLBACK TO SAVEPOINT outer_sp;
SELECT live, pending FROM idempotency.limits WHERE pattern = 'lim-nested';
SELECT idempotency.claim_guard('lim-nested', 'd');
COMMIT;
SELECT live, pending FROM idempotency.limits WHERE pattern = 'lim-nested';

-- A batch that would pass the limit claims nothing.
SELECT idempotency.set_limits('lim-batch', max_live => 2);
SELECT * FROM idempotency.claim_guards('lim-batch', ARRAY['a', 'b', 'c']);
SELECT count(*) FROM idempotency.guards WHERE scope = 'lim-batch';
SELECT ord, claimed FROM idempotency.claim_guards('lim-batch', ARRAY['a', 'b', 'a']);

-- A prefix covers its scopes together (one tenant's total).
SELECT idempotency.set_limits('tenant-7:*', max_live => 2);
SELECT idempotency.claim_guard('tenant-7:orders', 'k1');
SELECT idempotency.claim_guard('tenant-7:emails', 'k1');
SELECT idempotency.claim_guard('tenant-7:refunds', 'k1');
SELECT idempotency.claim_guard('tenant-8:orders', 'k1');
-- A scope under two limits must keep both.
SELECT idempotency.set_limits('tenant-9:*', max_live => 10);
SELECT idempotency.set_limits('tenant-9:orders', max_live => 1);
SELECT idempotency.claim_guard('tenant-9:orders', 'k1');
SELECT idempotency.claim_guard('tenant-9:orders', 'k2');
SELECT idempotency.claim_guard('tenant-9:emails', 'k2');

-- Pending guards: an outcome gives room back; a completed guard taken over
-- after its expiry is pending again and counts.
SELECT idempotency.set_limits('lim-pending', max_pending => 1);
SELECT claim_token AS token FROM idempotency.claim_or_lookup('lim-pending', 'p1',
  ttl => '200 milliseconds') \gset
SELECT idempotency.claim_guard('lim-pending', 'p2');
SELECT idempotency.record_outcome('lim-pending', 'p1', 'succeeded', NULL, :token);
SELECT pg_sleep(1.1);
SELECT idempotency.claim_guard('lim-pending', 'p2');
SELECT idempotency.claim_guard('lim-pending', 'p1');
SELECT pattern, live, pending FROM idempotency.limits WHERE pattern = 'lim-pending';

-- Expired guards count until they are purged; the purge gives room back.
SELECT idempotency.set_limits('lim-purge', max_live => 1);
SELECT idempotency.claim_guard('lim-purge', 'old', ttl => '10 milliseconds');
SELECT pg_sleep(0.05);
SELECT idempotency.claim_guard('lim-purge', 'new');
SELECT idempotency.purge_expired() > 0 AS purged;
SELECT pg_sleep(1.1);
SELECT idempotency.claim_guard('lim-purge', 'new');

-- Raising a limit takes effect at the next claim; a dropped limit is gone.
SELECT idempotency.set_limits('lim-exact', max_live => 5);
SELECT idempotency.claim_guard('lim-exact', 'f');
SELECT idempotency.drop_limits('lim-exact'), idempotency.drop_limits('lim-exact');
SELECT idempotency.claim_guard('lim-exact', k) FROM (VALUES ('g'), ('h')) AS v(k);
SELECT count(*) FROM idempotency.limits WHERE pattern = 'lim-exact';

-- 0 stops new guards in a scope altogether.
SELECT idempotency.set_limits('lim-closed', max_live => 0);
\set VERBOSITY sqlstate
SELECT idempotency.claim_guard('lim-closed', 'k');
\set VERBOSITY terse
-- The refused claim's first count gave back both kinds it counted.
SELECT live, pending FROM idempotency.limits WHERE pattern = 'lim-closed';

-- DBAs set limits through grant_admin; clients cannot, nor read them.
CREATE ROLE lim_admin;
CREATE ROLE lim_client;
SELECT idempotency.grant_admin('lim_admin');
SELECT idempotency.grant_client('lim_client');
SET ROLE lim_admin;
SELECT idempotency.set_limits('lim-admin', max_pending => 7);
SELECT pattern, max_pending FROM idempotency.limits WHERE pattern = 'lim-admin';
SET ROLE lim_client;
SELECT idempotency.set_limits('lim-client', max_live => 1);
SELECT count(*) FROM idempotency.limits;
RESET ROLE;
SELECT idempotency.revoke_admin('lim_admin');
SELECT idempotency.revoke_client('lim_client');
REVOKE USAGE ON SCHEMA idempotency FROM lim_admin;
DROP ROLE lim_admin;
DROP ROLE lim_client;

SELECT idempotency.drop_limits(pattern) FROM idempotency.scope_limits ORDER BY pattern;
