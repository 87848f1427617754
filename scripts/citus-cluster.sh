# A throwaway Citus cluster on loopback: a coordinator and two workers, each
# its own PostgreSQL server and port. Source this file (after
# scripts/cluster.sh); scripts/test-citus.sh and the tests under
# test/citus/load/ use it. Nodes are named coordinator, worker1, worker2.
#
#   citus_start_nodes WORK [postgresql.conf lines...]  initdb + start, CREATE EXTENSION citus
#   citus_join_workers                                  coordinator host, both workers added
#   citus_stop_nodes                                    fast stop of every node
#   sql NODE [psql options...]                          psql on NODE's postgres database
#   sqlstate NODE STATEMENT                             the SQLSTATE it fails with, or empty
#   expect EXPECTED NODE STATEMENT / expect_sqlstate NODE STATE STATEMENT
#   node_log NODE                                       the node's server log file

citus_nodes=(coordinator worker1 worker2)
nodes=("${citus_nodes[@]}")
declare -A port dir

citus_start_nodes() {
  local work=$1 node
  shift
  for node in "${citus_nodes[@]}"; do
    dir[$node]=$work/$node
    port[$node]=$(free_port)
    mkdir -p "${dir[$node]}"
    [ "$(id -u)" -eq 0 ] && chown postgres: "${dir[$node]}"
    (start_cluster "${dir[$node]}" "${port[$node]}" \
      "shared_preload_libraries = 'citus,idempotency'" \
      "max_connections = 200" "max_prepared_transactions = 100" \
      "wal_level = logical" "citus.max_cached_conns_per_worker = 4" \
      "citus.enable_statistics_collection = off" "$@") || return 1
  done
  for node in "${citus_nodes[@]}"; do
    sql "$node" -c 'CREATE EXTENSION citus' || return 1
  done
}

citus_join_workers() {
  sql coordinator -c "SELECT citus_set_coordinator_host('127.0.0.1', ${port[coordinator]})" \
    >/dev/null || return 1
  local node
  for node in worker1 worker2; do
    sql coordinator -c "SELECT citus_add_node('127.0.0.1', ${port[$node]})" >/dev/null || return 1
  done
}

citus_stop_nodes() {
  local node
  for node in "${citus_nodes[@]}"; do
    [ -n "${dir[$node]:-}" ] && stop_cluster "${dir[$node]}"
  done
  return 0
}

node_log() { echo "${dir[$1]}/server.log"; }

sql() {
  local node=$1
  shift
  psql -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "${port[$node]}" -U postgres -d postgres "$@"
}

sqlstate() {
  psql -X -q -At -h 127.0.0.1 -p "${port[$1]}" -U postgres -d postgres \
    -c '\set VERBOSITY sqlstate' -c "$2" 2>&1 >/dev/null |
    grep -oE 'ERROR:  [0-9A-Z]{5}' | head -n 1 | cut -c9-
}

expect_sqlstate() {
  local got
  got=$(sqlstate "$1" "$3")
  [ "$got" = "$2" ] || { echo "expected SQLSTATE $2, got '${got}' from: $3"; return 1; }
}

expect() {
  local got
  got=$(sql "$2" -c "$3") || return 1
  [ "$got" = "$1" ] || { echo "expected '$1', got '$got' from $2: $3"; return 1; }
}
