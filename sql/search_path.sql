-- A hostile search_path: look-alike tables, functions and operators in an
-- earlier schema change nothing the extension does.
CREATE ROLE idem_attacker LOGIN;
SELECT idempotency.grant_client('idem_attacker');
CREATE SCHEMA attacker AUTHORIZATION idem_attacker;
SET ROLE idem_attacker;
CREATE TABLE attacker.guards (scope text, key text, status text, fingerprint text,
    outcome jsonb, claim_token bigint, claimed_at timestamptz, completed_at timestamptz,
    expires_at timestamptz, lease_expires_at timestamptz);
CREATE TABLE attacker.retention_policies (scope text, ttl interval);
INSERT INTO attacker.retention_policies VALUES ('hp', '1 second');
-- A text = operator that says everything is equal, and a jsonb one.
CREATE FUNCTION attacker.always_equal(text, text) RETURNS boolean
    LANGUAGE sql AS 'SELECT true';
CREATE OPERATOR attacker.= (LEFTARG = text, RIGHTARG = text, FUNCTION = attacker.always_equal);
CREATE FUNCTION attacker.jsonb_always_equal(jsonb, jsonb) RETURNS boolean
    LANGUAGE sql AS 'SELECT true';
CREATE OPERATOR attacker.= (LEFTARG = jsonb, RIGHTARG = jsonb,
                            FUNCTION = attacker.jsonb_always_equal);
-- A timestamptz + interval that would make every guard expire in 2000.
CREATE FUNCTION attacker.plus(timestamptz, interval) RETURNS timestamptz
    LANGUAGE sql AS $$SELECT '2000-01-01'::timestamptz$$;
CREATE OPERATOR attacker.+ (LEFTARG = timestamptz, RIGHTARG = interval, FUNCTION = attacker.plus);
-- Look-alikes of functions the extension's SQL could call.
CREATE FUNCTION attacker.now() RETURNS timestamptz LANGUAGE sql AS $$SELECT '2000-01-01'::timestamptz$$;
CREATE FUNCTION attacker.coalesce(interval, interval, interval) RETURNS interval
    LANGUAGE sql AS $$SELECT '1 second'::interval$$;
SET search_path = attacker, idempotency;
SELECT idempotency.claim_guard('hp', 'k-1') AS claimed;
SELECT idempotency.claim_guard('hp', 'k-2') AS other_key_claimed;
SELECT idempotency.record_outcome('hp', 'k-1', 'succeeded', '{"a": 1}');
SELECT idempotency.record_outcome('hp', 'k-1', 'succeeded', '{"a": 2}');
SELECT status, outcome, expires_at - claimed_at AS ttl FROM idempotency.lookup('hp', 'k-1');
SELECT count(*) AS attacker_rows FROM attacker.guards;
-- Even with pg_catalog moved after the attacker's schema.
SET search_path = attacker, pg_catalog;
SELECT idempotency.claim_guard('hp', 'k-3') AS claimed;
RESET search_path;
RESET ROLE;
SELECT scope, key, status, outcome FROM idempotency.guards WHERE scope = 'hp' ORDER BY key;
DROP SCHEMA attacker CASCADE;
SELECT idempotency.revoke_client('idem_attacker');
DROP ROLE idem_attacker;
