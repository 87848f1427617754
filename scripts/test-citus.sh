#!/usr/bin/env bash
# The Citus suite: a real coordinator and two workers on loopback, each with
# its own port, started and stopped here. Builds Citus once into a cache
# (scripts/build-citus.sh). Prints "ok N - ..." / "not ok N - ..." lines and
# closes with "citus: N passed, N failed"; exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
source scripts/cluster.sh

scripts/build-citus.sh || exit 1

work=$(make_cluster_dir citus)
nodes=(coordinator worker1 worker2)
declare -A port dir
for node in "${nodes[@]}"; do
  dir[$node]=$work/$node
  port[$node]=$(free_port)
  mkdir -p "${dir[$node]}" && [ "$(id -u)" -eq 0 ] && chown postgres: "${dir[$node]}"
done
cleanup() {
  for node in "${nodes[@]}"; do stop_cluster "${dir[$node]}"; done
  rm -rf "$work"
}
trap cleanup EXIT

passed=0
failed=0
check() { # check DESCRIPTION COMMAND...
  local description=$1
  shift
  if "$@" >"$work/last.log" 2>&1; then
    passed=$((passed + 1))
    echo "ok $((passed + failed)) - $description"
  else
    failed=$((failed + 1))
    echo "not ok $((passed + failed)) - $description"
    sed 's/^/#   /' "$work/last.log" | tail -n 40
  fi
}

# sql NODE [DATABASE] -- psql options...: one statement's bare output.
sql() {
  local node=$1
  shift
  psql -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "${port[$node]}" -U postgres -d postgres "$@"
}
# sqlstate NODE STATEMENT: the SQLSTATE the statement fails with (empty if none).
sqlstate() {
  psql -X -q -At -h 127.0.0.1 -p "${port[$1]}" -U postgres -d postgres \
    -v VERBOSITY=sqlstate -c '\set VERBOSITY sqlstate' -c "$2" 2>&1 >/dev/null |
    grep -oE 'ERROR:  [0-9A-Z]{5}' | head -n 1 | cut -c9-
}
expect_sqlstate() { # expect_sqlstate NODE STATE STATEMENT
  local got
  got=$(sqlstate "$1" "$3")
  [ "$got" = "$2" ] || { echo "expected SQLSTATE $2, got '${got}' from: $3"; return 1; }
}
expect() { # expect EXPECTED NODE STATEMENT
  local got
  got=$(sql "$2" -c "$3") || return 1
  [ "$got" = "$1" ] || { echo "expected '$1', got '$got' from $2: $3"; return 1; }
}

# --- the cluster ---
for node in "${nodes[@]}"; do
  (start_cluster "${dir[$node]}" "${port[$node]}" \
    "shared_preload_libraries = 'citus,idempotency'" \
    "max_connections = 200" "max_prepared_transactions = 100" \
    "wal_level = logical" "citus.max_cached_conns_per_worker = 4" \
    "idempotency.purge_interval = 0") || exit 1
done
for node in "${nodes[@]}"; do
  sql "$node" -c 'CREATE EXTENSION citus' || exit 1
done
# The extension on the coordinator and worker1 only, for the "missing" error.
sql coordinator -c 'CREATE EXTENSION idempotency' || exit 1
sql worker1 -c 'CREATE EXTENSION idempotency' || exit 1
# A plain single-server database on the coordinator, the reference answers.
sql coordinator -c 'CREATE DATABASE plain' || exit 1
psql -X -q -h 127.0.0.1 -p "${port[coordinator]}" -U postgres -d plain \
  -c 'CREATE EXTENSION idempotency' || exit 1

check "distribute() without Citus: 55000" bash -c "
  psql -X -q -h 127.0.0.1 -p ${port[coordinator]} -U postgres -d plain \
    -c '\\set VERBOSITY sqlstate' -c 'SELECT idempotency.distribute()' 2>&1 | grep -qx 'ERROR:  55000'"

sql coordinator -c "SELECT citus_set_coordinator_host('127.0.0.1', ${port[coordinator]})" >/dev/null &&
  sql coordinator -c "SELECT citus_add_node('127.0.0.1', ${port[worker1]})" >/dev/null || exit 1
# worker2 joins without the extension, unless Citus propagates it on its own.
sql worker2 -c "SET citus.enable_ddl_propagation = off" -c 'DROP EXTENSION IF EXISTS idempotency' >/dev/null
sql coordinator -c "SELECT citus_add_node('127.0.0.1', ${port[worker2]})" >/dev/null || exit 1
if [ "$(sql worker2 -c "SELECT count(*) FROM pg_extension WHERE extname = 'idempotency'")" = 0 ]; then
  check "distribute() with a worker missing the extension: 55000" \
    expect_sqlstate coordinator 55000 'SELECT idempotency.distribute()'
  sql worker2 -c "SET citus.enable_ddl_propagation = off" -c 'CREATE EXTENSION idempotency' || exit 1
else
  sql worker2 -c "SET citus.enable_ddl_propagation = off" -c 'DROP EXTENSION idempotency' || exit 1
  check "distribute() with a worker missing the extension: 55000" \
    expect_sqlstate coordinator 55000 'SELECT idempotency.distribute()'
  sql worker2 -c "SET citus.enable_ddl_propagation = off" -c 'CREATE EXTENSION idempotency' || exit 1
fi

check "distribute() on a worker: 55000" expect_sqlstate worker1 55000 'SELECT idempotency.distribute()'
check "distribute(by => 'tenant'): 22023" expect_sqlstate coordinator 22023 "SELECT idempotency.distribute(by => 'tenant')"
check "distribute() on the coordinator" sql coordinator -c 'SELECT idempotency.distribute()'
check "distribute() again is harmless" sql coordinator -c 'SELECT idempotency.distribute()'
check "distribute(by => 'scope') once distributed by key: 55000" \
  expect_sqlstate coordinator 55000 "SELECT idempotency.distribute(by => 'scope')"
check "guards distributed by key, the configuration tables are reference tables" \
  expect "idempotency.guards|h|key
idempotency.retention_policies|n|
idempotency.scope_access|n|" coordinator \
  "SELECT logicalrelid::regclass::text, partmethod,
          coalesce(column_to_column_name(logicalrelid, partkey), '')
     FROM pg_dist_partition WHERE logicalrelid::regclass::text LIKE 'idempotency.%' ORDER BY 1"
check "the five client functions are delegated by key" \
  expect "5" coordinator \
  "SELECT count(*) FROM pg_dist_object
    WHERE classid = 'pg_proc'::regclass AND distribution_argument_index = 1
      AND objid::regprocedure::text LIKE 'idempotency.%'"

# --- the client API: same answers on a plain server, the coordinator, a worker ---
for database_node in "plain:coordinator" "postgres:coordinator" "postgres:worker1"; do
  database=${database_node%%:*} node=${database_node#*:}
  psql -X -q -h 127.0.0.1 -p "${port[$node]}" -U postgres -d "$database" >/dev/null 2>&1 <<'SQL'
DO $$ BEGIN CREATE ROLE conf_client; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
SELECT idempotency.grant_client('conf_client');
SELECT idempotency.restrict_scopes('conf_client', ARRAY['conf']);
SQL
  psql -X -q -At -h 127.0.0.1 -p "${port[$node]}" -U postgres -d "$database" \
    -v p="$database-$node" -f test/citus/conformance.sql >"$work/conformance-$database-$node.out" 2>&1
done
check "client API through the coordinator answers as on one server" \
  diff "$work/conformance-plain-coordinator.out" "$work/conformance-postgres-coordinator.out"
check "client API through a worker answers as on one server" \
  diff "$work/conformance-plain-coordinator.out" "$work/conformance-postgres-worker1.out"
check "the conformance run saw its SQLSTATEs (IK001 IK002 IK003 IK004 22023 22004 42501)" bash -c "
  for state in IK001 IK002 IK003 IK004 22023 22004 42501; do
    grep -q \"ERROR:  \$state\" '$work/conformance-plain-coordinator.out' || { echo missing \$state; exit 1; }
  done"

# --- across nodes ---
check "a claim through worker2 is seen through worker1 and the coordinator" bash -c "
  [ \"\$(psql -X -At -h 127.0.0.1 -p ${port[worker2]} -U postgres -d postgres -c \"SELECT idempotency.claim_guard('x', 'k1')\")\" = t ] &&
  [ \"\$(psql -X -At -h 127.0.0.1 -p ${port[worker1]} -U postgres -d postgres -c \"SELECT idempotency.claim_guard('x', 'k1')\")\" = f ] &&
  [ \"\$(psql -X -At -h 127.0.0.1 -p ${port[coordinator]} -U postgres -d postgres -c \"SELECT status FROM idempotency.lookup('x', 'k1')\")\" = pending ]"

# A retention policy set on the coordinator applies to the next claim in a
# session on a worker that had already cached the policies.
policy_on_worker() {
  local got
  got=$(sql worker1 <<SQL
SELECT expires_at - claimed_at FROM idempotency.claim_or_lookup('pol', 'before');
\! psql -X -q -h 127.0.0.1 -p ${port[coordinator]} -U postgres -d postgres -c "SELECT idempotency.set_retention('pol', '2 hours')" >/dev/null
SELECT expires_at - claimed_at FROM idempotency.claim_or_lookup('pol', 'after');
SQL
  )
  echo "$got"
  [ "$got" = "1 day
02:00:00" ]
}
check "a policy set on the coordinator applies to the next claim on a worker" policy_on_worker

# --- races: 12 clients over the three nodes claim the same 300 keys ---
race() {
  local pids=() node client
  for client in $(seq 1 12); do
    node=${nodes[$((client % 3))]}
    psql -X -q -At -h 127.0.0.1 -p "${port[$node]}" -U postgres -d postgres -c "
      SELECT k, idempotency.claim_guard('race', k::text) FROM generate_series(1, 300) AS k
       ORDER BY (k * $client) % 300" >"$work/race-$client.out" 2>&1 &
    pids+=($!)
  done
  local status=0
  for pid in "${pids[@]}"; do wait "$pid" || status=1; done
  [ $status -eq 0 ] || { cat "$work"/race-*.out; return 1; }
  local winners keys
  winners=$(cat "$work"/race-*.out | grep -c '|t$')
  keys=$(cat "$work"/race-*.out | grep '|t$' | cut -d'|' -f1 | sort -u | wc -l)
  echo "winners $winners, distinct keys won $keys"
  [ "$winners" -eq 300 ] && [ "$keys" -eq 300 ]
}
check "races over three nodes: exactly one winner per key" race

# --- load tests: test/citus/load/*.sh, sourced in name order (they use check,
# sql, expect, port, dir and work; each leaves the cluster up for the next) ---
for load_test in test/citus/load/*.sh; do
  [ -z "${CITUS_LOAD_TESTS:-}" ] || [[ " $CITUS_LOAD_TESTS " == *" $(basename "$load_test" .sh) "* ]] ||
    continue
  source "$load_test"
done

echo "citus: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
