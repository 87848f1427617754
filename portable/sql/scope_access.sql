-- Scope restrictions (idempotency.restrict_scopes), checked as the native
-- edition does (src/policies/scope_access.cpp) but without its per-backend
-- cache: every check reads idempotency.scope_access, so a change applies to
-- the next statement. The client functions run as the table owner (SECURITY
-- DEFINER), so "the caller" is the SET ROLE role (or the login role when
-- none is set) and the login role, each checked unless a superuser.

-- Whether `role`'s restrictions (those of every role it is a member of,
-- directly or not, NOINHERIT memberships included, as the native edition's
-- is_member_of_role; none: unrestricted) allow `scope`.
CREATE FUNCTION idempotency.role_may_use(role pg_catalog.oid, scope pg_catalog.text)
RETURNS pg_catalog.bool
LANGUAGE sql STABLE
AS $function$
    SELECT (SELECT r.rolsuper FROM pg_catalog.pg_roles AS r WHERE r.oid OPERATOR(pg_catalog.=) $1)
        OR NOT EXISTS (SELECT FROM idempotency.scope_access AS a
                        WHERE pg_catalog.pg_has_role($1, a.role::pg_catalog.oid, 'MEMBER'))
        OR EXISTS (SELECT FROM idempotency.scope_access AS a
                    WHERE pg_catalog.pg_has_role($1, a.role::pg_catalog.oid, 'MEMBER')
                      AND CASE WHEN pg_catalog.right(a.pattern, 1) OPERATOR(pg_catalog.=) '*'
                               THEN pg_catalog.starts_with($2, pg_catalog.left(a.pattern, -1))
                               ELSE a.pattern OPERATOR(pg_catalog.=) $2 END)
$function$;

-- The role calling through a SECURITY DEFINER function.
CREATE FUNCTION idempotency.calling_role()
RETURNS pg_catalog.oid
LANGUAGE sql STABLE
AS $function$
    SELECT r.oid FROM pg_catalog.pg_roles AS r
     WHERE r.rolname OPERATOR(pg_catalog.=)
           CASE pg_catalog.current_setting('role') WHEN 'none' THEN SESSION_USER
                ELSE pg_catalog.current_setting('role') END
$function$;

-- 42501 unless the calling role and the login role may both use `scope`.
CREATE FUNCTION idempotency.require_scope_access(scope pg_catalog.text)
RETURNS void
LANGUAGE plpgsql STABLE
AS $function$
DECLARE
    caller pg_catalog.oid := idempotency.calling_role();
    login pg_catalog.oid := (SELECT r.oid FROM pg_catalog.pg_roles AS r WHERE r.rolname = SESSION_USER);
    refused pg_catalog.oid;
BEGIN
    IF NOT idempotency.role_may_use(caller, scope) THEN
        refused := caller;
    ELSIF login <> caller AND NOT idempotency.role_may_use(login, scope) THEN
        refused := login;
    END IF;
    IF refused IS NOT NULL THEN
        RAISE EXCEPTION 'role "%" may not use scope "%"', pg_get_userbyid(refused), scope
            USING ERRCODE = '42501',
                  DETAIL = 'The role is restricted to the scopes listed for it in idempotency.scope_access.',
                  HINT = 'A DBA can extend the list with idempotency.restrict_scopes().';
    END IF;
END
$function$;
