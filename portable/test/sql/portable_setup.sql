-- The portable edition, installed by psql -f (or by pg_tle) before this
-- suite: made of SQL and PL/pgSQL only, with no native library on the server.
SELECT count(*) AS functions_of_a_library FROM pg_proc WHERE probin LIKE '%idempotency%';
SELECT DISTINCT l.lanname FROM pg_proc AS p JOIN pg_language AS l ON l.oid = p.prolang
 WHERE p.pronamespace = 'idempotency'::regnamespace ORDER BY 1;
SELECT r.rolsuper AS owner_is_superuser FROM pg_namespace AS n JOIN pg_roles AS r ON r.oid = n.nspowner
 WHERE n.nspname = 'idempotency';
-- Every function pins search_path but the three that return constant lists
-- (shared with the native edition).
SELECT proname AS search_path_not_pinned FROM pg_proc
 WHERE pronamespace = 'idempotency'::regnamespace
   AND NOT coalesce(proconfig @> ARRAY['search_path=pg_catalog, pg_temp'], false)
 ORDER BY 1;
