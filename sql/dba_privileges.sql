-- DBA functions belong to the owner and to roles granted them with
-- grant_admin; client roles cannot change policies, purge, or read state.
CREATE ROLE idem_client LOGIN;
CREATE ROLE idem_dba LOGIN;
SELECT idempotency.grant_client('idem_client');
SELECT idempotency.grant_admin('idem_dba');
SET ROLE idem_client;
SELECT idempotency.claim_guard('dba', 'k') AS client_can_claim;
SELECT idempotency.set_retention('dba', '1 hour');
SELECT idempotency.drop_retention('dba');
SELECT idempotency.purge_expired();
SELECT * FROM idempotency.worker_status();
SELECT * FROM idempotency.stats;
SELECT * FROM idempotency.retention_policies;
SELECT idempotency.grant_admin('idem_client');
RESET ROLE;
SET ROLE idem_dba;
SELECT idempotency.set_retention('dba', '1 hour');
SELECT scope, ttl FROM idempotency.retention_policies WHERE scope = 'dba';
SELECT idempotency.purge_expired() >= 0 AS dba_can_purge;
SELECT scope, pending FROM idempotency.stats WHERE scope = 'dba';
SELECT count(*) > 0 AS dba_sees_status FROM idempotency.worker_status();
SELECT idempotency.drop_retention('dba');
-- ...but a DBA role still cannot write the tables directly.
DELETE FROM idempotency.guards;
INSERT INTO idempotency.retention_policies (scope, ttl) VALUES ('x', '1 day');
RESET ROLE;
SELECT idempotency.revoke_admin('idem_dba');
SET ROLE idem_dba;
SELECT idempotency.set_retention('dba', '1 hour');
RESET ROLE;
SELECT idempotency.revoke_admin('idem_dba');
SELECT idempotency.revoke_client('idem_client');
REVOKE USAGE ON SCHEMA idempotency FROM idem_dba;
DROP ROLE idem_client;
DROP ROLE idem_dba;
