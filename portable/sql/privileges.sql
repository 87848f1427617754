-- Privileges: nobody but the owner may call anything until a DBA grants it
-- (grant_client, grant_admin), as in the native edition. The client and DBA
-- functions run as their owner (SECURITY DEFINER), so a client role needs no
-- privilege on the tables (and gets none). fingerprint() is pure and public,
-- with the functions it calls (it runs as its caller). Every function that
-- anyone but the owner may execute pins search_path (portable_setup checks).
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA idempotency FROM PUBLIC;
GRANT EXECUTE ON FUNCTION idempotency.fingerprint(pg_catalog.jsonb, pg_catalog.text[]),
                          idempotency.canonical_json(pg_catalog.jsonb),
                          idempotency.canonical_number(pg_catalog.numeric),
                          idempotency.json_pointer_tokens(pg_catalog.text),
                          idempotency.json_pointer_part(pg_catalog.jsonb, pg_catalog.text[])
    TO PUBLIC;
