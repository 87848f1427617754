-- The examples' own tables, next to the extension: the payment provider's
-- ledger (the stub provider records every charge it makes there, so a test can
-- count them) and the HTTP service's account balances.
--
-- Run as a superuser in the examples' database, after CREATE EXTENSION:
--   psql -v ON_ERROR_STOP=1 -v app_role=examples_app -f examples/setup.sql
-- :app_role is the role the examples connect as (it gets the client functions
-- through idempotency.grant_client, and the rights on these tables).
CREATE SCHEMA IF NOT EXISTS examples;

-- Every charge the stub provider made. `reference` is what the merchant passed
-- along with the charge (scope/idempotency key), which is what lets a merchant
-- ask the provider "did my timed-out charge go through?". The provider does not
-- deduplicate on it: each call charges.
CREATE TABLE IF NOT EXISTS examples.ledger (
    charge_id  bigserial PRIMARY KEY,
    reference  text NOT NULL,
    customer   text NOT NULL,
    amount     integer NOT NULL CHECK (amount > 0),
    charged_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX IF NOT EXISTS ledger_reference_idx ON examples.ledger (reference);

-- The HTTP service's customers (examples/http): each charge lowers a balance.
CREATE TABLE IF NOT EXISTS examples.accounts (
    customer text PRIMARY KEY,
    balance  integer NOT NULL
);

SELECT idempotency.grant_client(:'app_role') \g /dev/null
GRANT USAGE ON SCHEMA examples TO :"app_role";
GRANT SELECT, INSERT, DELETE ON examples.ledger TO :"app_role";
GRANT SELECT, INSERT, UPDATE, DELETE ON examples.accounts TO :"app_role";
GRANT USAGE ON SEQUENCE examples.ledger_charge_id_seq TO :"app_role";
