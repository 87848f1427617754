-- The raw-SQL contenders: a table equivalent to idempotency.guards (same
-- columns, primary key (scope, key) with collation "C", the same expires_at
-- index, fillfactor and autovacuum settings) and the hand-written claim
-- as a PL/pgSQL function. Run in every database the benchmark uses.
CREATE SCHEMA bench_raw;
CREATE TABLE bench_raw.guards (LIKE idempotency.guards INCLUDING ALL)
  WITH (fillfactor = 90,
        autovacuum_vacuum_scale_factor = 0.02,
        autovacuum_vacuum_insert_scale_factor = 0.02,
        autovacuum_analyze_scale_factor = 0.02);

CREATE FUNCTION bench_raw.claim_guard(p_scope text, p_key text) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO bench_raw.guards AS g (scope, key, status, claim_token, claimed_at, expires_at)
    VALUES (p_scope, p_key, 'pending', (pg_catalog.random() * 9e18)::pg_catalog.int8,
            pg_catalog.now(), pg_catalog.now() + '1 day'::pg_catalog.interval)
    ON CONFLICT (scope, key) DO NOTHING;
  RETURN FOUND;
END
$$;

-- load_guards(table, first, last, status, expires_in): rows scope 'bench',
-- key first..last as text (so new random keys interleave with them in the
-- index), in one INSERT ... SELECT, expiring expires_in from now (plus a
-- microsecond per row, so expiries differ). Completed guards carry a small
-- outcome.
CREATE FUNCTION bench_raw.load_guards(target regclass, first bigint, last bigint,
                                      status text, expires_in interval) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format(
    'INSERT INTO %s (scope, key, status, outcome, claim_token, claimed_at, completed_at, expires_at)'
    ' SELECT ''bench'', i::text, $1,'
    '        CASE WHEN $1 = ''pending'' THEN NULL'
    '             ELSE ''{"charge_id": "ch_3MmlLrLkdIwHu7ix", "amount": 1999}''::jsonb END,'
    '        i, now(), CASE WHEN $1 = ''pending'' THEN NULL ELSE now() END,'
    '        now() + $2 + (i - $3) * interval ''1 microsecond'''
    '   FROM generate_series($3, $4) AS i', target)
  USING status, expires_in, first, last;
END
$$;

-- purge_raw(batch_size, skip_locked): the extension's purge statement by hand,
-- batch after batch in the caller's transaction as purge_expired() does; with
-- skip_locked = false, the same DELETE without FOR UPDATE SKIP LOCKED (for
-- bench/profile and workload 7's optional raw variants, BENCH_PURGE_RAW=1).
CREATE FUNCTION bench_raw.purge_raw(batch_size int, skip_locked boolean) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
  total bigint := 0;
  deleted bigint;
  cutoff timestamptz := clock_timestamp();
BEGIN
  LOOP
    IF skip_locked THEN
      DELETE FROM bench_raw.guards AS g
       WHERE g.ctid = ANY (ARRAY(
               SELECT e.ctid FROM bench_raw.guards AS e
                WHERE e.expires_at <= cutoff
                ORDER BY e.expires_at LIMIT batch_size FOR UPDATE SKIP LOCKED))
         AND g.expires_at <= cutoff;
    ELSE
      DELETE FROM bench_raw.guards AS g
       WHERE g.ctid = ANY (ARRAY(
               SELECT e.ctid FROM bench_raw.guards AS e
                WHERE e.expires_at <= cutoff
                ORDER BY e.expires_at LIMIT batch_size))
         AND g.expires_at <= cutoff;
    END IF;
    GET DIAGNOSTICS deleted = ROW_COUNT;
    total := total + deleted;
    EXIT WHEN deleted < batch_size;
  END LOOP;
  RETURN total;
END
$$;
