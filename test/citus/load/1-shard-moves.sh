# shellcheck shell=bash disable=SC2154  # check, sql, port, dir, nodes, work: scripts/test-citus.sh
# Load test: shard moves and a rebalance while clients claim. Sourced by
# scripts/test-citus.sh after its own checks (guards distributed by key).
#
# Six clients (two through each node) claim keys while shards of
# idempotency.guards move from worker1 to worker2 one by one, and then a
# background rebalance (citus_rebalance_start, waited for) moves most back.
# The moves use Citus's default transfer mode, `auto`: logical replication
# (the suite runs with wal_level = logical and guards has a primary key), so
# writes go on during the copy and block only for the final switch-over.
source test/citus/load/lib/claimers.sh
source test/citus/load/lib/shards.sh

move_shards() { # moves 4 shards of guards from worker1 to worker2
  local shard
  for shard in $(guards_shards_on worker1 | head -n 4); do
    echo "moving shard $shard"
    sql coordinator -c "SELECT citus_move_shard_placement($shard, '127.0.0.1', ${port[worker1]},
                          '127.0.0.1', ${port[worker2]})" || return 1
  done
  echo "worker1 $(guards_shards_on worker1 | wc -l) shards, worker2 $(guards_shards_on worker2 | wc -l)"
  [ "$(guards_shards_on worker1 | wc -l)" -lt "$(guards_shards_on worker2 | wc -l)" ]
}

rebalance() {
  sql coordinator -c "SELECT citus_rebalance_start()" -c "SELECT citus_rebalance_wait()" || return 1
  expect finished coordinator "SELECT state FROM pg_dist_background_job ORDER BY job_id DESC LIMIT 1" ||
    return 1
  local on1 on2
  on1=$(guards_shards_on worker1 | wc -l) on2=$(guards_shards_on worker2 | wc -l)
  echo "after the rebalance: worker1 $on1 shards, worker2 $on2"
  # by_shard_count's default threshold leaves 1 shard over or under the average
  [ $((on1 - on2)) -le 2 ] && [ $((on2 - on1)) -le 2 ]
}

# After the moves each node purges the shards it now holds (the placements
# pg_dist_placement gives its group), whichever node the guards were claimed on.
purge_after_moves() {
  sql coordinator -c "SELECT count(idempotency.claim_guard('moved', k::text, ttl => '1 ms'))
                        FROM generate_series(1, 400) AS k" >/dev/null || return 1
  sleep 1
  local node deleted total=0 remaining
  for node in worker1 worker2; do
    deleted=$(sql "$node" -c 'SELECT idempotency.purge_expired()') || return 1
    echo "$node purged $deleted"
    total=$((total + deleted))
  done
  remaining=$(sql coordinator -c "SELECT count(*) FROM idempotency.guards WHERE scope = 'moved'")
  echo "expired guards purged: $total, left: $remaining"
  [ "$total" -ge 400 ] && [ "$remaining" -eq 0 ]
}

start_claimers moves 6
sleep 3
check "moves: 4 guards shards moved from worker1 to worker2 under load" move_shards
check "moves: citus_rebalance_start under load, waited for, balances the shards" rebalance
sleep 2
stop_claimers moves
check_claims moves
check "moves: each node purges the expired guards of the shards it holds after the moves" purge_after_moves
