# shellcheck shell=bash disable=SC2154  # check, sql, port, dir, nodes, work: scripts/test-citus.sh
# Load test: a worker killed with kill -9 mid-load and restarted. Sourced by
# scripts/test-citus.sh after its own checks (guards distributed by key).
#
# Six clients (two through each node) claim keys; worker1's postmaster is
# killed with SIGKILL, then started again on the same data directory. Clients
# on worker1 lose their connection and reconnect once it is back; clients on
# the other nodes get errors for keys whose shard is on worker1. Afterwards
# every key a client saw an error for is claimed again (a retry), and then:
# every acknowledged win is a guard (those on worker1's shards were durable
# across the crash), and no key was won twice.
source test/citus/load/lib/claimers.sh

crash_worker1() {
  local pid
  pid=$(head -n 1 "${dir[worker1]}/data/postmaster.pid") || return 1
  echo "kill -9 $pid (worker1's postmaster)"
  kill -9 "$pid" || return 1
  sleep 3
  # The killed postmaster's children exit on their own once they notice; until
  # then the old shared memory is in use and the start fails: try again.
  for _ in $(seq 1 20); do
    as_cluster_user pg_ctl -D "${dir[worker1]}/data" -l "${dir[worker1]}/server.log" -w -t 120 \
      start && return 0
    sleep 1
  done
  return 1
}

# Acknowledged wins whose key's shard is placed on NODE.
wins_placed_on() { # wins_placed_on SCOPE NODE
  sql coordinator <<SQL
CREATE TEMP TABLE wins (key text);
\\copy wins FROM '$work/$1.won'
SELECT count(*) FROM wins AS w
  JOIN pg_dist_placement AS p
    ON p.shardid = get_shard_id_for_distribution_column('idempotency.guards', w.key)
  JOIN pg_dist_node AS n USING (groupid)
 WHERE n.nodeport = ${port[$2]};
SQL
}

# The nodes not killed stayed up: no server process of theirs died.
others_stayed_up() {
  local node status=0
  for node in coordinator worker2; do
    sql "$node" -c 'SELECT 1' >/dev/null || { echo "$node does not answer"; status=1; }
    grep -E 'terminated by signal|PANIC|was terminated' "${dir[$node]}/server.log" && status=1
  done
  return $status
}

start_claimers crash 6
sleep 4
check "crash: worker1 killed with kill -9 mid-load and restarted" crash_worker1
sleep 4
stop_claimers crash
check "crash: the coordinator and worker2 stayed up" others_stayed_up
retry_failed_claims crash
check_claims crash
on_worker1=$(wins_placed_on crash worker1)
echo "# crash: $on_worker1 acknowledged wins live on worker1's shards"
check "crash: some acknowledged wins live on worker1's shards ($on_worker1)" test "${on_worker1:-0}" -gt 0
