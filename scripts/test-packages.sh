#!/usr/bin/env bash
# `make test-packages`: the packages of `make packages` used as a DBA would,
# for each major N in PACKAGE_MAJORS, in a throwaway layer over N's chroot
# from which every earlier install of the extension is removed first:
#   apt install ./postgresql-N-idempotency_*.deb; pg_createcluster; the
#   library in shared_preload_libraries; pg_ctlcluster start; CREATE EXTENSION;
#   the pg_regress suite and the isolation specs against that cluster (`make
#   installcheck TEMP_INSTANCE=` with the installed pg_config, in a copy of
#   the tree where nothing is built); the purge worker deleting expired
#   guards, seen in worker_status(); then the removal: DROP EXTENSION, apt
#   remove, a server that still preloads the library refuses to start, and
#   starts once it is taken out.
# Then PGXN, in another fresh layer: `pgxn install` of the `make dist` zip (of
# the committed tree plus uncommitted changes to tracked files), without the
# source tree, and CREATE EXTENSION on a server that preloads it.
# Prints TAP lines; exits non-zero on any failure. Needs root (chroot, mount).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
source scripts/pg-chroot.sh
source scripts/cluster.sh # free_port

if [ "$(id -u)" -ne 0 ]; then
  echo "test-packages needs root (chroot, mount)" >&2
  exit 1
fi
packages_dir=${PACKAGES_DIR:-$IDEMPOTENCY_CHROOT_CACHE/packages}
deb_version=$(sed -n '1s/^idempotency (\([^)]*\)).*/\1/p' debian/changelog)
# Seconds the purge worker gets to delete expired guards (it runs every
# second here; the machine may be loaded).
purge_timeout=${PURGE_TIMEOUT:-120}
failed=0 n=0 layer=""
work=$(mktemp -d)
cleanup() {
  [ -n "$layer" ] && stop_clusters && unmount_layer "$layer"
  rm -rf "$work"
}
trap cleanup EXIT

# check DESCRIPTION COMMAND...: one TAP line; the command's output goes to
# $log and, when it fails, its end is printed as diagnostics.
check() {
  local description=$1 status
  shift
  n=$((n + 1))
  echo "== $description" >>"$log"
  "$@" >>"$log.step" 2>&1
  status=$?
  cat "$log.step" >>"$log"
  if [ "$status" -eq 0 ]; then
    echo "ok $n - $description"
  else
    echo "not ok $n - $description"
    tail -n 40 "$log.step" | sed 's/^/# /'
    failed=1
  fi
  rm -f "$log.step"
  return "$status"
}
# in_layer COMMAND: a shell command in the layer, as a clean root login.
in_layer() {
  chroot "$layer" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
    DEBIAN_FRONTEND=noninteractive bash -ec "$1"
}
# psql_in_layer DATABASE SQL: one query as the postgres superuser; prints the result.
psql_in_layer() {
  in_layer "runuser -u postgres -- psql -X -At -v ON_ERROR_STOP=1 -p $port -d $1 -c \"$2\""
}
stop_clusters() {
  in_layer "for c in \$(pg_lsclusters -h | awk '\$4 == \"online\" {print \$1 \"/\" \$2}'); do
              pg_ctlcluster \${c%/*} \${c#*/} stop -m fast; done" >/dev/null 2>&1
  return 0
}
# A layer over the chroot with no trace of an earlier install of the extension
# (the version matrix installs it from source into the chroot) and no tree.
clean_layer() {
  local base=$1 name=$2
  layer=$base.$name
  mount_layer "$base" "$layer" || return 1
  in_layer "rm -rf /build /usr/lib/postgresql/$major/lib/idempotency.so \
    /usr/lib/postgresql/$major/lib/bitcode/idempotency /usr/lib/postgresql/$major/lib/bitcode/idempotency.index.bc \
    /usr/share/postgresql/$major/extension/idempotency.control \
    /usr/share/postgresql/$major/extension/idempotency--*.sql"
}
not_installed() {
  in_layer "! ls /usr/lib/postgresql/$major/lib/idempotency.so \
    /usr/share/postgresql/$major/extension/idempotency* 2>/dev/null"
}
# make_cluster NAME: a cluster as pg_createcluster makes it, preloading the
# library, with the purge worker running every second in the database postgres.
make_cluster() {
  in_layer "pg_createcluster $major $1 -p $port >/dev/null
    pg_conftool $major $1 set shared_preload_libraries idempotency
    pg_conftool $major $1 set idempotency.databases postgres
    pg_conftool $major $1 set idempotency.purge_interval 1s
    pg_ctlcluster $major $1 start"
}
# The number of tests `make installcheck` must run: REGRESS and ISOLATION.
expected_tests() {
  in_layer "cd /build/idempotency && make -s --no-print-directory PG_CONFIG=$pg_config \
    --eval 'count-tests: ; @echo \$(words \$(REGRESS) \$(ISOLATION))' count-tests"
}
installcheck() {
  local expected passed failed_tests
  expected=$(expected_tests) || return 1
  in_layer "cd /build/idempotency && ! find . -name '*.so' | grep . &&
    runuser -u postgres -- make -s installcheck TAP_TESTS= TEMP_INSTANCE= PG_CONFIG=$pg_config \
      PGHOST=/var/run/postgresql PGPORT=$port PGUSER=postgres" >"$work/installcheck.log" 2>&1
  local status=$?
  cat "$work/installcheck.log"
  in_layer "cd /build/idempotency && cat regression.diffs output_iso/regression.diffs 2>/dev/null" | head -n 80
  passed=$(grep -cE '^(test| ) *[a-z_]+ +\.\.\. ok|^ok [0-9]+ +- ' "$work/installcheck.log")
  failed_tests=$(grep -cE '\.\.\. FAILED|^not ok [0-9]+ +- ' "$work/installcheck.log")
  echo "installcheck: $passed passed, $failed_tests failed, $expected expected"
  [ "$status" -eq 0 ] && [ "$failed_tests" -eq 0 ] && [ "$passed" -eq "$expected" ]
}
purge_worker_works() {
  psql_in_layer postgres "SELECT count(idempotency.claim_guard('package-test', 'k' || i, ttl => '0.5 seconds'))
                            FROM generate_series(1, 200) AS i" || return 1
  local waited=0
  while [ "$waited" -lt "$purge_timeout" ]; do
    if [ "$(psql_in_layer postgres "SELECT running AND total_deleted >= 200 AND last_error IS NULL
          AND NOT EXISTS (SELECT FROM idempotency.guards WHERE scope = 'package-test')
          FROM idempotency.worker_status() WHERE database = 'postgres'")" = t ]; then
      psql_in_layer postgres "SELECT database, running, state, total_deleted FROM idempotency.worker_status()"
      return 0
    fi
    sleep 1
    waited=$((waited + 1))
  done
  psql_in_layer postgres "SELECT * FROM idempotency.worker_status()"
  return 1
}
create_extension_and_claim() {
  psql_in_layer postgres "CREATE EXTENSION idempotency" &&
    [ "$(psql_in_layer postgres "SELECT idempotency.claim_guard('first', 'key')")" = t ]
}
drop_extension_and_stop() {
  psql_in_layer postgres "DROP EXTENSION idempotency" && in_layer "pg_ctlcluster $major main stop"
}
remove_package() {
  in_layer "apt-get remove -y -q $package" && not_installed
}
start_refused() {
  ! in_layer "pg_ctlcluster $major main start" &&
    in_layer "grep 'could not access file \"idempotency\"' /var/log/postgresql/postgresql-$major-main.log"
}
start_without_library() {
  in_layer "pg_conftool $major main remove shared_preload_libraries && pg_ctlcluster $major main start" &&
    [ "$(psql_in_layer postgres "SELECT 1")" = 1 ]
}
fresh_pgxn_layer() {
  clean_layer "$base" pgxn-test && not_installed
}
pgxn_library_unowned() {
  in_layer "test -f /usr/lib/postgresql/$major/lib/idempotency.so &&
    ! dpkg -S /usr/lib/postgresql/$major/lib/idempotency.so"
}

# The PGXN zip, made once, of the tree as it is (tracked files).
dist_ref=$(git stash create)
make -s dist DIST_DIR="$work" DIST_REF="${dist_ref:-HEAD}" >/dev/null || exit 1
zip=$(ls "$work"/idempotency-*.zip)

for major in $PACKAGE_MAJORS; do
  started=$(date +%s)
  package=postgresql-$major-idempotency
  base=$(chroot_dir "$major")
  deb=$packages_dir/$(basename "$base")/${package}_${deb_version}_amd64.deb
  log=$packages_dir/$(basename "$base")/test.log
  pg_config=/usr/lib/postgresql/$major/bin/pg_config
  port=$(free_port)
  if [ ! -f "$deb" ]; then
    n=$((n + 1))
    echo "not ok $n - $deb exists (run make packages first)"
    failed=1
    continue
  fi
  : >"$log"
  echo "# PostgreSQL $major: $deb (log: $log)"

  check "PostgreSQL $major: a fresh layer without the extension" clean_layer "$base" package-test &&
    check "nothing of idempotency installed before the package" not_installed &&
    cp "$deb" "$layer/tmp/" && copy_tree_to "$layer/build/idempotency" &&
    in_layer "chown -R postgres: /build/idempotency" &&
    check "apt install ./$(basename "$deb")" in_layer "cd /tmp && apt-get install -y -q ./$(basename "$deb")" &&
    check "the library and the control file are the package's" \
      in_layer "dpkg -S /usr/lib/postgresql/$major/lib/idempotency.so \
        /usr/share/postgresql/$major/extension/idempotency.control | grep -c '^$package: ' | grep -qx 2" &&
    check "pg_createcluster, shared_preload_libraries, pg_ctlcluster start" make_cluster main &&
    check "CREATE EXTENSION idempotency; claim_guard() claims" create_extension_and_claim &&
    check "make installcheck (pg_regress and isolation) against the installed package" installcheck &&
    check "the purge worker deletes expired guards (worker_status())" purge_worker_works &&
    check "DROP EXTENSION, pg_ctlcluster stop" drop_extension_and_stop &&
    check "apt remove $package removes its files" remove_package &&
    check "a server still preloading the removed library does not start" start_refused &&
    check "taken out of shared_preload_libraries, the cluster starts" start_without_library
  stop_clusters
  unmount_layer "$layer" && layer=""

  # PGXN: the zip alone, built and installed by pgxnclient.
  check "PostgreSQL $major: a fresh layer for PGXN, without the extension or the tree" \
    fresh_pgxn_layer &&
    cp "$zip" "$layer/tmp/" &&
    check "pgxn install ./$(basename "$zip")" \
      in_layer "cd /tmp && MAKEFLAGS=-j2 nice -n 10 pgxn install --pg_config $pg_config ./$(basename "$zip")" &&
    check "the library pgxn installed is no package's" pgxn_library_unowned &&
    check "pg_createcluster with the library preloaded starts" make_cluster main &&
    check "CREATE EXTENSION idempotency from the PGXN install; claim_guard() claims" \
      create_extension_and_claim
  stop_clusters
  unmount_layer "$layer" && layer=""
  echo "# PostgreSQL $major: $(($(date +%s) - started)) s"
done
echo "1..$n"
exit "$failed"
