-- The privilege model: nobody but the owner may use anything until a DBA
-- grants it; granted client roles use the functions, never the tables.
CREATE ROLE idem_app LOGIN;
CREATE ROLE idem_stranger LOGIN;
SELECT idempotency.grant_client('idem_app');
SET ROLE idem_app;
SELECT idempotency.claim_guard('app', 'p-1') AS claimed;
SELECT idempotency.record_outcome('app', 'p-1', 'succeeded', '{"ok": true}') AS recorded;
SELECT status, outcome FROM idempotency.lookup('app', 'p-1');
SELECT claimed, status FROM idempotency.claim_or_lookup('app', 'p-1');
SELECT claim_token AS p2_token FROM idempotency.claim_or_lookup('app', 'p-2') \gset
SELECT idempotency.extend_lease('app', 'p-2', :p2_token, '1 minute') IS NOT NULL AS extended;
SELECT idempotency.release_guard('app', 'p-2') AS released;
-- ...but the tables are out of reach.
SELECT * FROM idempotency.guards;
INSERT INTO idempotency.guards (scope, key, status, claim_token, claimed_at, expires_at)
VALUES ('app', 'forged', 'succeeded', 1, now(), now() + '1 day');
UPDATE idempotency.guards SET status = 'failed';
DELETE FROM idempotency.guards;
SELECT * FROM idempotency.retention_policies;
-- ...and so are the DBA functions.
SELECT idempotency.grant_client('idem_stranger');
RESET ROLE;
-- A role that was never granted cannot call anything.
SET ROLE idem_stranger;
SELECT idempotency.claim_guard('app', 'p-3');
SELECT * FROM idempotency.lookup('app', 'p-1');
RESET ROLE;
-- Revoking takes it all back.
SELECT idempotency.revoke_client('idem_app');
SET ROLE idem_app;
SELECT idempotency.claim_guard('app', 'p-4');
SELECT idempotency.extend_lease('app', 'p-1', 1, '1 minute');
RESET ROLE;
SELECT scope, key, status FROM idempotency.guards WHERE scope = 'app' ORDER BY key;
DROP ROLE idem_app;
DROP ROLE idem_stranger;
