-- The portable edition, installed by psql -f (or by pg_tle) before this
-- suite: made of SQL and PL/pgSQL only, with no native library on the server.
SELECT count(*) AS functions_of_a_library FROM pg_proc WHERE probin LIKE '%idempotency%';
SELECT DISTINCT l.lanname FROM pg_proc AS p JOIN pg_language AS l ON l.oid = p.prolang
 WHERE p.pronamespace = 'idempotency'::regnamespace ORDER BY 1;
SELECT r.rolsuper AS owner_is_superuser FROM pg_namespace AS n JOIN pg_roles AS r ON r.oid = n.nspowner
 WHERE n.nspname = 'idempotency';
-- Every function that anyone but the owner may execute pins search_path
-- (the internal helpers, the owner's alone, run under their callers').
SELECT p.proname AS executable_by_others_without_pinned_search_path FROM pg_proc AS p
 WHERE p.pronamespace = 'idempotency'::regnamespace
   AND NOT coalesce(p.proconfig @> ARRAY['search_path=pg_catalog, pg_temp'], false)
   AND EXISTS (SELECT FROM aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) AS a
                WHERE a.grantee <> p.proowner AND a.privilege_type = 'EXECUTE')
 ORDER BY 1;
