#!/usr/bin/env bash
# The portable edition's tests inside one PostgreSQL chroot, as root (run by
# scripts/test-portable.sh, which copies the tree to /build/idempotency).
# Prints TAP lines "ok N - ..." / "not ok N - ..." and "1..N" at the end;
# exits non-zero on any failure.
#
# PG_MAJOR      the server's major version
# PORTABLE_TLE  1: also pg_tle 1.5.2 (built from ../shared/vendor, copied to
#               /build/vendor): install by a pgtle_admin member, conformance,
#               ALTER EXTENSION UPDATE, DROP EXTENSION
# PORTABLE_NATIVE 1: also build and install the native extension afterwards,
#               and move guards between the editions with pg_dump
set -uo pipefail
major=$PG_MAJOR
bin=/usr/lib/postgresql/$major/bin
pg_config=$bin/pg_config
tree=/build/idempotency
work=/tmp/portable-test
log=$work/log
cd "$tree" || exit 1
rm -rf "$work" && mkdir -p "$work" && chown postgres "$work"
count=0
failures=0

tap() {  # tap STATUS DESCRIPTION
  count=$((count + 1))
  if [ "$1" -eq 0 ]; then echo "ok $count - $2"; else echo "not ok $count - $2"; failures=$((failures + 1)); fi
}
# check DESCRIPTION COMMAND...: one TAP line for the command's exit status.
check() { local what=$1; shift; echo "== $what" >>"$log"; "$@" >>"$log" 2>&1; tap $? "$what"; }
elapsed() { echo $(($(date +%s) - $1)); }

# The tests need pg_cron, and flex, bison and GSSAPI headers for pg_tle (also in
# scripts/pg-chroot.sh's chroot_packages, so a fresh chroot has them).
# Debian has no pg_cron for every major (none for 19 yet): without it, the
# purge checks do not run, and the plan says so.
cron=1
packages="postgresql-$major-cron flex bison libkrb5-dev"
if ! apt-cache show "postgresql-$major-cron" >/dev/null 2>&1; then
  cron=0
  packages="flex bison libkrb5-dev"
  echo "# no postgresql-$major-cron in Debian: the pg_cron purge checks do not run on $major"
fi
dpkg -s $packages >/dev/null 2>&1 ||
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $packages >>"$log" 2>&1 ||
  { echo "Bail out! could not install $packages"; exit 1; }

# No native library: whatever an earlier run installed into this chroot goes.
rm -f "$($pg_config --pkglibdir)/idempotency.so" "$($pg_config --sharedir)"/extension/idempotency*
check "no native idempotency library or control file on the server" \
  bash -c "! ls '$($pg_config --pkglibdir)/idempotency.so' '$($pg_config --sharedir)/extension/idempotency.control'"

check "make portable builds both artifacts" python3 portable/build.py --out "$work/artifacts"
version=$(sed -n "s/^default_version = '\\(.*\\)'$/\\1/p" idempotency.control)
plain=$work/artifacts/idempotency-portable--$version.sql
tle=$work/artifacts/idempotency-pgtle--$version.sql
chmod -R a+rX "$work"

preload=""
[ "$cron" = 1 ] && preload=pg_cron
if [ "${PORTABLE_TLE:-0}" = 1 ]; then
  started=$(date +%s)
  # From scratch: an earlier run's build and installation go first.
  rm -rf /tmp/pg_tle-1.5.2 "$($pg_config --pkglibdir)/pg_tle.so" "$($pg_config --sharedir)"/extension/pg_tle*
  check "pg_tle 1.5.2 builds and installs (PGXS)" \
    bash -c "tar -xzf /build/vendor/pg_tle-1.5.2.tar.gz -C /tmp &&
             make -C /tmp/pg_tle-1.5.2 -j2 PG_CONFIG=$pg_config with_llvm=no &&
             make -C /tmp/pg_tle-1.5.2 install PG_CONFIG=$pg_config with_llvm=no"
  echo "# pg_tle build: $(elapsed "$started") s"
  preload="${preload:+$preload,}pg_tle"
fi

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
runuser -u postgres -- "$bin/initdb" -D "$work/data" -U postgres --no-sync >>"$log" 2>&1
cat >>"$work/data/postgresql.conf" <<EOF
port = $port
listen_addresses = ''
unix_socket_directories = '$work'
shared_preload_libraries = '$preload'
cron.database_name = 'cron_app'
cron.use_background_workers = on
max_worker_processes = 20
EOF
runuser -u postgres -- "$bin/pg_ctl" -D "$work/data" -l "$work/server.log" -w start >>"$log" 2>&1 ||
  { echo "Bail out! the server did not start"; tail -n 20 "$work/server.log"; exit 1; }
trap 'runuser -u postgres -- "$bin/pg_ctl" -D "$work/data" -m fast -w stop >/dev/null 2>&1' EXIT

# sql USER DATABASE [psql arguments...]: psql as USER, stopping at the first error.
sql() { local user=$1 db=$2; shift 2; runuser -u postgres -- "$bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$work" -p "$port" -U "$user" -d "$db" "$@"; }
# value USER DATABASE QUERY: the query's single value.
value() { sql "$1" "$2" -At -c "$3"; }
# new_database NAME OWNER: with pg_regress's settings (messages and formats in C).
new_database() {
  sql postgres postgres -c "CREATE DATABASE $1 OWNER $2" &&
  for setting in "lc_messages TO 'C'" "lc_monetary TO 'C'" "lc_numeric TO 'C'" "lc_time TO 'C'" \
                 "bytea_output TO 'hex'" "timezone_abbreviations TO 'Default'"; do
    sql postgres postgres -c "ALTER DATABASE $1 SET $setting" || return 1
  done
}
# conformance LABEL REGRESS_DB ISOLATION_DB: one TAP line per file.
conformance() {
  local label=$1 out=$work/conformance-$1 line
  runuser -u postgres -- env PGHOST="$work" PGPORT="$port" \
    "$tree/portable/test/conformance.sh" "/usr/lib/postgresql/$major/lib/pgxs/src/test" "$2" "$3" "$out" \
    >"$work/conformance-$label.tap" 2>&1
  while read -r line; do
    case $line in
      "ok - "*) tap 0 "[$label] ${line#ok - }" ;;
      "not ok - "*) tap 1 "[$label] ${line#not ok - }"; cat "${out}"/*.diff "$out"/isolation/regression.diffs 2>/dev/null | head -n 60 | sed 's/^/# /' ;;
      *) echo "# $line" ;;
    esac
  done <"$work/conformance-$label.tap"
}

sql postgres postgres -c "CREATE ROLE app_owner LOGIN" >>"$log" 2>&1

# --- psql -f by the database owner, not a superuser ----------------------
started=$(date +%s)
check "the owner (not a superuser) creates its databases' schema with psql -f" bash -c "
  $(declare -f sql new_database); work=$work port=$port bin=$bin
  for db in regress_p iso_p cron_app app; do
    new_database \$db app_owner && sql app_owner \$db -f '$plain' || exit 1
  done"
check "the owner is not a superuser" test "$(value postgres postgres "SELECT rolsuper FROM pg_roles WHERE rolname = 'app_owner'")" = f
check "a second psql -f is refused (55000) and changes nothing" bash -c "
  $(declare -f sql value); work=$work port=$port bin=$bin
  before=\$(value app_owner app \"SELECT count(*) FROM pg_proc WHERE pronamespace = 'idempotency'::regnamespace\")
  ! sql app_owner app -f '$plain' 2>&1 | tee -a /dev/stderr | grep -q 'already exists, and is not empty' && exit 1
  after=\$(value app_owner app \"SELECT count(*) FROM pg_proc WHERE pronamespace = 'idempotency'::regnamespace\")
  [ \"\$before\" = \"\$after\" ]"

# --- pg_cron: the purge, scheduled by the owner ---------------------------
if [ "$cron" = 1 ]; then
sql postgres cron_app -c "CREATE EXTENSION pg_cron" -c "GRANT USAGE ON SCHEMA cron TO app_owner" >>"$log" 2>&1
cron_version=$(value postgres cron_app "SELECT extversion FROM pg_extension WHERE extname = 'pg_cron'")
schedule='* * * * *'
case $cron_version in 1.[0-4]*) ;; *) schedule='2 seconds' ;; esac
echo "# pg_cron $cron_version: purge schedule '$schedule'"
check "schedule_purge() in a database without pg_cron: 55000, naming the statement to run in pg_cron's" bash -c "
  $(declare -f sql); work=$work port=$port bin=$bin
  sql app_owner app -c 'SELECT idempotency.schedule_purge()' 2>&1 | tee -a /dev/stderr |
    grep -q 'cron.schedule_in_database(.idempotency purge of app., .\* \* \* \* \*., .SELECT idempotency.purge_expired().'"
sql app_owner cron_app -c "
  SELECT count(idempotency.claim_guard('cron', 'expiring-' || i, ttl => '1 second')) FROM generate_series(1, 20) AS i;
  SELECT count(idempotency.claim_guard('cron', 'live-' || i, ttl => '1 hour')) FROM generate_series(1, 5) AS i;" >>"$log" 2>&1
check "the owner schedules the purge with schedule_purge() (pg_cron job)" \
  test -n "$(value app_owner cron_app "SELECT idempotency.schedule_purge('$schedule')")"
cron_started=$(date +%s)
fi

# --- the shared conformance suite, psql -f install ------------------------
conformance psql-f regress_p iso_p
echo "# psql -f install and conformance: $(elapsed "$started") s"

# --- claim_or_lookup(wait): woken by another session's commit -----------
check "a waiting claim_or_lookup answers the outcome another session commits (polling)" bash -c "
  $(declare -f sql value); work=$work port=$port bin=$bin
  sql app_owner app -c \"SELECT idempotency.claim_guard('wait', 'k')\" >/dev/null || exit 1
  (sleep 1; sql app_owner app -c \"SELECT idempotency.record_outcome('wait', 'k', 'succeeded', '{\\\"n\\\": 1}')\") &
  answer=\$(value app_owner app \"SELECT status || ' ' || outcome::text || ' ' ||
      (clock_timestamp() - statement_timestamp() BETWEEN interval '0.9 s' AND interval '3 s')
      FROM idempotency.claim_or_lookup('wait', 'k', wait => '20 seconds')\")
  wait; echo \"\$answer\"; [ \"\$answer\" = 'succeeded {\"n\": 1} true' ]"

# --- pg_cron, seen deleting ---------------------------------------------
if [ "$cron" = 1 ]; then
check "pg_cron's job deletes the expired guards and keeps the live ones" bash -c "
  $(declare -f sql value); work=$work port=$port bin=$bin
  for i in \$(seq 1 90); do
    left=\$(value app_owner cron_app \"SELECT count(*) FROM idempotency.guards WHERE scope = 'cron'\")
    [ \"\$left\" = 5 ] && exit 0
    sleep 1
  done
  echo \"still \$left guards\"; value postgres cron_app 'SELECT * FROM cron.job_run_details'; exit 1"
echo "# pg_cron purge seen after $(elapsed "$cron_started") s"
check "worker_status() shows the pg_cron job and its last run" bash -c "
  $(declare -f sql value); work=$work port=$port bin=$bin
  value app_owner cron_app \"SELECT running AND state LIKE 'scheduled by pg_cron: job %' AND last_run_finished IS NOT NULL
                             FROM idempotency.worker_status()\" | grep -qx t"
check "unschedule_purge() removes the job" bash -c "
  $(declare -f sql value); work=$work port=$port bin=$bin
  [ \"\$(value app_owner cron_app 'SELECT idempotency.unschedule_purge()')\" = t ] &&
  [ \"\$(value postgres cron_app \"SELECT count(*) FROM cron.job WHERE jobname LIKE 'idempotency purge%'\")\" = 0 ]"
fi

# --- pg_tle: a pgtle_admin member installs, creates, updates, drops ------
if [ "${PORTABLE_TLE:-0}" = 1 ]; then
  started=$(date +%s)
  sql postgres postgres -c "CREATE ROLE tle_admin LOGIN" >>"$log" 2>&1
  check "a pgtle_admin member (not a superuser) installs the extension and creates it" bash -c "
    $(declare -f sql new_database); work=$work port=$port bin=$bin
    for db in regress_tle iso_tle; do
      new_database \$db tle_admin &&
      sql postgres \$db -c 'CREATE EXTENSION pg_tle' -c 'GRANT pgtle_admin TO tle_admin' &&
      sql tle_admin \$db -f '$tle' && sql tle_admin \$db -c 'CREATE EXTENSION idempotency' || exit 1
    done"
  conformance pg_tle regress_tle iso_tle
  check "ALTER EXTENSION UPDATE through pg_tle's update path keeps the guards" bash -c "
    $(declare -f sql value); work=$work port=$port bin=$bin
    sql tle_admin regress_tle -c \"SELECT idempotency.claim_guard('upd', 'k');
                                   SELECT idempotency.record_outcome('upd', 'k', 'succeeded', '{\\\"kept\\\": true}')\" &&
    sql tle_admin regress_tle -c \"SELECT pgtle.install_update_path('idempotency', '$version', '$version.1',
        \\\$u\\\$COMMENT ON SCHEMA idempotency IS 'updated through pg_tle'\\\$u\\\$)\" &&
    sql tle_admin regress_tle -c \"ALTER EXTENSION idempotency UPDATE TO '$version.1'\" &&
    [ \"\$(value tle_admin regress_tle \"SELECT extversion || ' ' || obj_description('idempotency'::regnamespace) || ' ' ||
        (SELECT outcome::text FROM idempotency.lookup('upd', 'k')) FROM pg_extension WHERE extname = 'idempotency'\")\" = \
       '$version.1 updated through pg_tle {\"kept\": true}' ]"
  check "DROP EXTENSION removes every object, and CREATE EXTENSION works again" bash -c "
    $(declare -f sql value); work=$work port=$port bin=$bin
    sql tle_admin regress_tle -c 'DROP EXTENSION idempotency' &&
    [ \"\$(value tle_admin regress_tle \"SELECT count(*) FROM pg_class WHERE relnamespace = 'idempotency'::regnamespace\")\" = 0 ] &&
    [ \"\$(value tle_admin regress_tle \"SELECT count(*) FROM pg_proc WHERE pronamespace = 'idempotency'::regnamespace\")\" = 0 ] &&
    sql tle_admin regress_tle -c 'CREATE EXTENSION idempotency' &&
    [ \"\$(value tle_admin regress_tle \"SELECT idempotency.claim_guard('again', 'k')\")\" = t ]"
  echo "# pg_tle install, conformance, update, drop: $(elapsed "$started") s"
fi

# --- the native edition: the same contract, and guards moved both ways ----
if [ "${PORTABLE_NATIVE:-0}" = 1 ]; then
  started=$(date +%s)
  check "the native edition builds and installs" \
    bash -c "make -j2 PG_CONFIG=$pg_config with_llvm=no >/dev/null && make install PG_CONFIG=$pg_config with_llvm=no >/dev/null"
  sql postgres postgres -c "CREATE DATABASE native_n" >>"$log" 2>&1
  sql postgres native_n -c "CREATE EXTENSION idempotency" >>"$log" 2>&1
  # The API as the catalogs describe it: functions with their arguments,
  # defaults and results, the tables' and types' columns, the views.
  # The API as the catalogs describe it: functions with their arguments,
  # defaults and results, and the columns of the tables, types and views.
  contract="
    SELECT 'function ' || p.proname || '(' || pg_get_function_arguments(p.oid) || ') ' || pg_get_function_result(p.oid)
      FROM pg_proc AS p WHERE p.pronamespace = 'idempotency'::regnamespace
    UNION ALL
    SELECT c.relkind::text || ' ' || c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
           || coalesce(' collate ' || nullif(co.collname, 'default'), '') || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
      FROM pg_class AS c JOIN pg_attribute AS a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
      LEFT JOIN pg_collation AS co ON co.oid = a.attcollation
     WHERE c.relnamespace = 'idempotency'::regnamespace
    ORDER BY 1"
  check "same contract: functions (arguments, defaults, results), tables, types and views as the native edition" bash -c "
    $(declare -f sql value); work=$work port=$port bin=$bin
    value postgres native_n \"$contract\" >$work/contract-native.txt &&
    value postgres app \"$contract\" >$work/contract-portable.txt &&
    python3 portable/test/compare_contract.py $work/contract-native.txt $work/contract-portable.txt"
  # Guards of every kind in a portable database, its data dumped (pg_dump
  # --data-only) and restored into a native one, and back.
  guards_query="SELECT scope, key, status, fingerprint, outcome::text, claim_token, claimed_at, completed_at,
                       expires_at, lease_expires_at, encode(attempt_digest, 'hex') FROM idempotency.guards ORDER BY 1, 2;
                SELECT * FROM idempotency.retention_policies ORDER BY 1;
                SELECT role::text, pattern FROM idempotency.scope_access ORDER BY 1, 2"
  new_database move_p app_owner >>"$log" 2>&1 && sql app_owner move_p -f "$plain" >>"$log" 2>&1
  sql postgres postgres -c "CREATE ROLE move_app" >>"$log" 2>&1
  sql app_owner move_p -c "
    SELECT idempotency.set_retention('orders', '2 days');
    SELECT idempotency.restrict_scopes('move_app', ARRAY['orders', 'tenant:*']);
    SELECT idempotency.claim_guard('orders', 'done', fingerprint => idempotency.fingerprint('{\"a\": 1}'));
    SELECT idempotency.record_outcome('orders', 'done', 'succeeded', '{\"charge\": \"ch_1\"}');
    SELECT idempotency.claim_guard('orders', 'failed');
    SELECT idempotency.record_outcome('orders', 'failed', 'failed', '{\"error\": \"declined\"}');
    SELECT idempotency.claim_guard('orders', 'leased', lease => '1 hour');
    SELECT idempotency.claim_guard('orders', 'attempted', attempt => 'attempt-0000000001');
    SELECT idempotency.claim_guard('tenant:1', 'pending', ttl => '3 hours');" >>"$log" 2>&1
  sql app_owner move_p -At -c "$guards_query" >"$work/move-portable.txt"
  check "portable to native: pg_dump --data-only restores every guard, outcome, token and policy" bash -c "
    $(declare -f sql value); work=$work port=$port bin=$bin
    runuser -u postgres -- $bin/pg_dump -h $work -p $port -U app_owner --data-only --schema=idempotency move_p >$work/portable-data.sql &&
    sql postgres native_n -f $work/portable-data.sql &&
    sql postgres native_n -At -c \"$guards_query\" | diff $work/move-portable.txt -"
  token=$(value app_owner move_p "SELECT claim_token FROM idempotency.guards WHERE key = 'leased'")
  check "the native edition carries on with the moved guards (replay, fencing token, attempt)" bash -c "
    $(declare -f sql value); work=$work port=$port bin=$bin
    [ \"\$(value postgres native_n \"SELECT status || ' ' || outcome::text FROM idempotency.claim_or_lookup('orders', 'done',
          fingerprint => idempotency.fingerprint('{\\\"a\\\": 1.0}'))\")\" = 'succeeded {\"charge\": \"ch_1\"}' ] &&
    [ \"\$(value postgres native_n \"SELECT idempotency.record_outcome('orders', 'leased', 'succeeded', NULL, $token)\")\" = t ] &&
    [ \"\$(value postgres native_n \"SELECT idempotency.claim_guard('orders', 'attempted', attempt => 'attempt-0000000001')\")\" = t ]"
  sql postgres native_n -At -c "$guards_query" >"$work/move-native.txt"
  check "native to portable: pg_dump --data-only of the native database restores into a portable one" bash -c "
    $(declare -f sql value new_database); work=$work port=$port bin=$bin
    new_database back_p app_owner && sql app_owner back_p -f '$plain' &&
    runuser -u postgres -- $bin/pg_dump -h $work -p $port -U postgres --data-only native_n >$work/native-data.sql &&
    sql app_owner back_p -f $work/native-data.sql &&
    sql app_owner back_p -At -c \"$guards_query\" | diff $work/move-native.txt - &&
    [ \"\$(value app_owner back_p \"SELECT status FROM idempotency.claim_or_lookup('orders', 'leased')\")\" = succeeded ]"
  check "a whole portable database dumps and restores as its owner (pg_dump, psql)" bash -c "
    $(declare -f sql value new_database); work=$work port=$port bin=$bin
    runuser -u postgres -- $bin/pg_dump -h $work -p $port -U app_owner move_p >$work/portable-all.sql &&
    new_database copy_p app_owner && sql app_owner copy_p -f $work/portable-all.sql &&
    sql app_owner copy_p -At -c \"$guards_query\" | diff $work/move-portable.txt - &&
    [ \"\$(value app_owner copy_p \"SELECT idempotency.claim_guard('orders', 'done')\")\" = f ]"
  echo "# native build, contract and dump/restore: $(elapsed "$started") s"
fi

echo "1..$count"
[ "$failures" -eq 0 ]
