-- What scripts/check-docs.py compares the documentation with, read from a
-- server where the extension was just created (and nothing SET): every
-- function the extension owns, as docs/reference.md must print it, and every
-- idempotency.* setting with its default as SHOW prints it and its context
-- (`changed` when the server's configuration sets it: then SHOW is not the
-- default, and the check refuses the facts).
SELECT pg_catalog.json_build_object(
  'functions', (
    SELECT pg_catalog.json_agg(pg_catalog.format('%s.%s(%s) returns %s', n.nspname, p.proname,
                                                 pg_catalog.pg_get_function_arguments(p.oid),
                                                 pg_catalog.pg_get_function_result(p.oid))
                               ORDER BY p.proname, p.oid)
      FROM pg_catalog.pg_proc p
      JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
      JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass
                                 AND d.objid = p.oid AND d.deptype = 'e'
      JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid AND e.extname = 'idempotency'),
  'settings', (
    SELECT pg_catalog.json_agg(pg_catalog.json_build_object(
             'name', name, 'default', pg_catalog.current_setting(name), 'context', context,
             'changed', setting IS DISTINCT FROM boot_val)
           ORDER BY name)
      FROM pg_catalog.pg_settings
     WHERE name LIKE 'idempotency.%'));
