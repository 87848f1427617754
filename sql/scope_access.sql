-- Per-role scope restrictions: one application cannot read or write another
-- application's guards once a DBA restricts it.
CREATE ROLE idem_shop LOGIN;
CREATE ROLE idem_billing LOGIN;
CREATE ROLE idem_tenants NOLOGIN;
CREATE ROLE idem_tenant_app LOGIN IN ROLE idem_tenants;
-- A member that does not inherit the group's privileges is still its member.
CREATE ROLE idem_tenant_noinherit LOGIN NOINHERIT IN ROLE idem_tenants;
SELECT idempotency.grant_client('idem_shop'), idempotency.grant_client('idem_billing'),
       idempotency.grant_client('idem_tenant_app'),
       idempotency.grant_client('idem_tenant_noinherit');
-- Before any restriction, any client can see any scope's outcomes.
SET ROLE idem_billing;
SELECT idempotency.claim_guard('billing', 'invoice-1');
SELECT idempotency.record_outcome('billing', 'invoice-1', 'succeeded', '{"card": "4242"}');
RESET ROLE;
SET ROLE idem_shop;
SELECT outcome FROM idempotency.lookup('billing', 'invoice-1') AS unrestricted_read;
RESET ROLE;
-- Restrict each application to its own scopes.
SELECT idempotency.restrict_scopes('idem_shop', ARRAY['shop', 'shop:*']);
SELECT idempotency.restrict_scopes('idem_billing', ARRAY['billing']);
SELECT idempotency.restrict_scopes('idem_tenants', ARRAY['tenant-42:*']);
SELECT role, pattern FROM idempotency.scope_access ORDER BY role::text, pattern;
SET ROLE idem_shop;
SELECT idempotency.claim_guard('shop', 'order-1') AS own_scope,
       idempotency.claim_guard('shop:eu', 'order-1') AS own_prefix;
-- Every client function refuses another scope: 42501, nothing read or written.
SELECT * FROM idempotency.lookup('billing', 'invoice-1');
SELECT idempotency.claim_guard('billing', 'invoice-2');
SELECT * FROM idempotency.claim_or_lookup('billing', 'invoice-1');
SELECT idempotency.record_outcome('billing', 'invoice-1', 'failed');
SELECT idempotency.release_guard('billing', 'invoice-1');
-- The prefix is a prefix, not a pattern language: 'shopping' is not 'shop:*'.
SELECT idempotency.claim_guard('shopping', 'x');
RESET ROLE;
-- Restrictions reach roles through membership.
SET ROLE idem_tenant_app;
SELECT idempotency.claim_guard('tenant-42:payments', 'p-1') AS tenant_scope;
SELECT idempotency.claim_guard('tenant-43:payments', 'p-1');
RESET ROLE;
-- NOINHERIT members too: they could SET ROLE to the group, so they are held
-- to its scopes.
SET ROLE idem_tenant_noinherit;
SELECT idempotency.claim_guard('tenant-42:payments', 'p-2') AS noinherit_tenant_scope;
SELECT idempotency.claim_guard('tenant-43:payments', 'p-2');
RESET ROLE;
-- Changes apply at once, in this session and others: extend, then lift.
SELECT idempotency.restrict_scopes('idem_shop', ARRAY['shop', 'billing']);
SET ROLE idem_shop;
SELECT status FROM idempotency.lookup('billing', 'invoice-1') AS now_allowed;
SELECT idempotency.claim_guard('shop:eu', 'order-2');
RESET ROLE;
-- A restricted login role cannot escape through SET ROLE to an unrestricted
-- role it belongs to: the session's login role stays restricted.
CREATE ROLE idem_wide NOLOGIN;
GRANT idem_wide TO idem_shop;
SELECT idempotency.grant_client('idem_wide');
SET SESSION AUTHORIZATION idem_shop;
SET ROLE idem_wide;
SELECT current_user, session_user;
SELECT idempotency.claim_guard('tenant-43:payments', 'escape');
SELECT idempotency.claim_guard('shop', 'via-set-role') AS own_scope_via_set_role;
RESET ROLE;
RESET SESSION AUTHORIZATION;
-- The unrestricted role itself, logged in as itself, is not restricted.
SET ROLE idem_wide;
SELECT idempotency.claim_guard('tenant-43:payments', 'wide') AS unrestricted_role;
RESET ROLE;
SELECT idempotency.revoke_client('idem_wide');
REVOKE idem_wide FROM idem_shop;
DROP ROLE idem_wide;
SELECT idempotency.unrestrict_scopes('idem_shop') AS lifted,
       idempotency.unrestrict_scopes('idem_shop') AS lifted_again;
SET ROLE idem_shop;
SELECT idempotency.claim_guard('anything', 'k') AS unrestricted_again;
RESET ROLE;
-- Superusers are never restricted.
SELECT count(*) FROM idempotency.lookup('tenant-43:payments', 'p-1');
-- Bad input.
\set VERBOSITY sqlstate
SELECT idempotency.restrict_scopes(NULL, ARRAY['x']);
SELECT idempotency.restrict_scopes('idem_shop', NULL);
SELECT idempotency.restrict_scopes('idem_shop', ARRAY[]::text[]);
SELECT idempotency.restrict_scopes('idem_shop', ARRAY['ok', NULL]);
SELECT idempotency.restrict_scopes('idem_shop', ARRAY['']);
SELECT idempotency.restrict_scopes('idem_shop', ARRAY['a*b']);
SELECT idempotency.restrict_scopes('no_such_role', ARRAY['x']);
SELECT idempotency.unrestrict_scopes(NULL);
\set VERBOSITY default
SELECT idempotency.restrict_scopes('idem_shop', ARRAY['a*b']);
-- Client roles cannot change or read restrictions.
SET ROLE idem_billing;
SELECT idempotency.unrestrict_scopes('idem_billing');
SELECT * FROM idempotency.scope_access;
RESET ROLE;
-- Lift a role's restriction before dropping the role: nothing else removes its rows.
SELECT idempotency.unrestrict_scopes('idem_billing'), idempotency.unrestrict_scopes('idem_tenants');
SELECT count(*) FROM idempotency.scope_access;
SELECT idempotency.revoke_client('idem_shop'), idempotency.revoke_client('idem_billing'),
       idempotency.revoke_client('idem_tenant_app'),
       idempotency.revoke_client('idem_tenant_noinherit');
DROP ROLE idem_shop, idem_billing, idem_tenant_app, idem_tenant_noinherit, idem_tenants;
