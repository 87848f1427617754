-- No background worker in the portable edition: pg_cron runs
-- purge_expired() instead. schedule_purge() makes (or replaces) the job,
-- unschedule_purge() removes it, worker_status() reports it in the native
-- edition's columns. pg_cron keeps its jobs in one database
-- (cron.database_name): these functions work there, for that database or,
-- with cron.schedule_in_database (pg_cron 1.4 and later), for another one.

-- The job's name, one per database.
CREATE FUNCTION idempotency.purge_job_name(database pg_catalog.name)
RETURNS pg_catalog.text
LANGUAGE sql IMMUTABLE
AS $function$
    SELECT 'idempotency purge of ' OPERATOR(pg_catalog.||) $1
$function$;

-- 55000 unless pg_cron's schema is in this database.
CREATE FUNCTION idempotency.require_pg_cron(database pg_catalog.name)
RETURNS void
LANGUAGE plpgsql STABLE
AS $function$
BEGIN
    IF to_regclass('cron.job') IS NULL THEN
        RAISE EXCEPTION 'pg_cron is not installed in database "%"', current_database()
            USING ERRCODE = '55000',
                  HINT = format('Enable pg_cron (CREATE EXTENSION pg_cron in the database named by cron.database_name), then run there: '
                                'SELECT cron.schedule_in_database(%L, %L, %L, %L);',
                                idempotency.purge_job_name(database), '* * * * *',
                                'SELECT idempotency.purge_expired()', database);
    END IF;
END
$function$;

-- Schedules purge_expired() in `database` (default: this one) on the cron
-- `schedule` (default: every minute, the native worker's interval), as the
-- calling role, replacing an earlier job of this function. Returns the job id.
CREATE FUNCTION idempotency.schedule_purge(schedule pg_catalog.text DEFAULT '* * * * *',
                                           database pg_catalog.name DEFAULT current_database())
RETURNS pg_catalog.int8
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    job pg_catalog.int8;
    command pg_catalog.text := 'SELECT idempotency.purge_expired()';
BEGIN
    IF schedule IS NULL OR database IS NULL THEN
        RAISE EXCEPTION 'schedule and database must not be NULL' USING ERRCODE = '22004';
    END IF;
    PERFORM idempotency.require_pg_cron(database);
    PERFORM idempotency.unschedule_purge(database);
    -- cron.schedule for pg_cron's own database (any role with USAGE on
    -- schema cron); cron.schedule_in_database for another one (pg_cron 1.4
    -- and later; some versions grant it only to superusers by default).
    IF database = current_database() THEN
        EXECUTE 'SELECT cron.schedule($1, $2, $3)'
           INTO job USING idempotency.purge_job_name(database), schedule, command;
    ELSIF EXISTS (SELECT FROM pg_proc AS p WHERE p.proname = 'schedule_in_database'
                     AND p.pronamespace = 'cron'::pg_catalog.regnamespace) THEN
        EXECUTE 'SELECT cron.schedule_in_database($1, $2, $3, $4)'
           INTO job USING idempotency.purge_job_name(database), schedule, command, database::pg_catalog.text;
    ELSE
        RAISE EXCEPTION 'this pg_cron cannot schedule jobs in another database'
            USING ERRCODE = '55000', HINT = 'Update pg_cron to 1.4 or later.';
    END IF;
    RETURN job;
END
$function$;

-- Removes the purge job of `database` that the calling role scheduled;
-- false if there was none.
CREATE FUNCTION idempotency.unschedule_purge(database pg_catalog.name DEFAULT current_database())
RETURNS pg_catalog.bool
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    removed pg_catalog.bool := false;
    job pg_catalog.int8;
BEGIN
    PERFORM idempotency.require_pg_cron(database);
    FOR job IN EXECUTE 'SELECT j.jobid FROM cron.job AS j WHERE j.jobname = $1'
               USING idempotency.purge_job_name(database) LOOP
        EXECUTE 'SELECT cron.unschedule($1)' USING job;
        removed := true;
    END LOOP;
    RETURN removed;
END
$function$;

-- The native columns, for this database: running means a pg_cron job of
-- schedule_purge() is active (visible only in pg_cron's database, to the
-- role that scheduled it, or to a superuser); its last run from
-- cron.job_run_details.
CREATE FUNCTION idempotency.worker_status()
RETURNS TABLE(database pg_catalog.name, running pg_catalog.bool, pid pg_catalog.int4,
              state pg_catalog.text, last_run_started pg_catalog.timestamptz,
              last_run_finished pg_catalog.timestamptz, last_run_deleted pg_catalog.int8,
              total_deleted pg_catalog.int8, last_error pg_catalog.text,
              next_run pg_catalog.timestamptz)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    job record;
    run record;
BEGIN
    database := current_database();
    running := false;
    IF to_regclass('cron.job') IS NULL THEN
        state := 'no purge worker in the portable edition; pg_cron is not in this database (see idempotency.schedule_purge)';
        RETURN NEXT;
        RETURN;
    END IF;
    EXECUTE 'SELECT j.jobid, j.schedule, j.active FROM cron.job AS j WHERE j.jobname = $1 LIMIT 1'
       INTO job USING idempotency.purge_job_name(database);
    IF job.jobid IS NULL THEN
        state := 'not scheduled (see idempotency.schedule_purge)';
        RETURN NEXT;
        RETURN;
    END IF;
    running := job.active;
    state := format('scheduled by pg_cron: job %s, %s%s', job.jobid, job.schedule,
                    CASE WHEN job.active THEN '' ELSE ' (inactive)' END);
    EXECUTE 'SELECT d.start_time, d.end_time, d.status, d.return_message FROM cron.job_run_details AS d'
            ' WHERE d.jobid = $1 ORDER BY d.runid DESC LIMIT 1'
       INTO run USING job.jobid;
    last_run_started := run.start_time;
    last_run_finished := run.end_time;
    IF run.status = 'failed' THEN
        last_error := run.return_message;
    END IF;
    RETURN NEXT;
END
$function$;
