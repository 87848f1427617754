# shellcheck shell=bash disable=SC2154  # check, sql, port, dir, nodes, work: scripts/test-citus.sh
# A placement awaiting deferred cleanup. Sourced by scripts/test-citus.sh
# after 1-shard-moves.sh (guards distributed by key).
#
# A shard move leaves the old placement's table on the source node until
# Citus drops it (pg_dist_cleanup; the coordinator's maintenance daemon every
# citus.defer_shard_delete_interval, or citus_cleanup_orphaned_resources()).
# pg_dist_placement no longer lists it, so no node's purge touches it. Here a
# shard holding 10 live and 10 expired guards of scope `deferred` moves from
# worker1 to worker2 with the automatic cleanup off; then each node purges,
# Citus drops the old placement, and the live guards must all be there and no
# expired one counted anywhere.
source test/citus/load/lib/shards.sh

deferred_shard=""
deferred_keys() { # deferred_keys FIRST LAST: keys of $deferred_shard, rows FIRST to LAST of them
  sql coordinator -c "
    SELECT k FROM (SELECT 'dc-' || i AS k, row_number() OVER (ORDER BY i) AS n
                     FROM generate_series(1, 5000) AS i
                    WHERE get_shard_id_for_distribution_column('idempotency.guards', 'dc-' || i)
                          = $deferred_shard) AS s
     WHERE n BETWEEN $1 AND $2"
}

# expect_deferred_stats NODE: idempotency.stats seen from NODE counts the 10
# live guards of the scope and no expired one.
expect_deferred_stats() {
  expect "10 pending, 0 expired" "$1" "
    SELECT coalesce(sum(pending), 0) || ' pending, ' || coalesce(sum(expired_awaiting_purge), 0)
           || ' expired' FROM idempotency.stats WHERE scope = 'deferred'"
}

move_with_cleanup_deferred() {
  sql coordinator -c "ALTER SYSTEM SET citus.defer_shard_delete_interval = -1" \
    -c 'SELECT pg_reload_conf()' >/dev/null || return 1
  deferred_shard=$(guards_shards_on worker1 | head -n 1)
  [ -n "$deferred_shard" ] || { echo "no guards shard on worker1"; return 1; }
  local live expired key
  live=$(deferred_keys 1 10) expired=$(deferred_keys 11 20)
  [ "$(wc -w <<<"$live $expired")" -eq 20 ] || { echo "not 20 keys of shard $deferred_shard"; return 1; }
  for key in $live; do
    expect t coordinator "SELECT idempotency.claim_guard('deferred', '$key', ttl => '1 hour')" || return 1
  done
  for key in $expired; do
    expect t coordinator "SELECT idempotency.claim_guard('deferred', '$key', ttl => '1 ms')" || return 1
  done
  sleep 0.1
  echo "moving shard $deferred_shard (10 live, 10 expired guards) from worker1 to worker2"
  sql coordinator -c "SELECT citus_move_shard_placement($deferred_shard, '127.0.0.1', ${port[worker1]},
                        '127.0.0.1', ${port[worker2]})" >/dev/null || return 1
  # The old placement awaits cleanup: still a table on worker1, with the 20 rows.
  expect 20 worker1 "SELECT count(*) FROM idempotency.guards_$deferred_shard
                      WHERE scope = 'deferred'" || return 1
  sql coordinator -c "SELECT object_name, policy_type FROM pg_dist_cleanup" &&
    [ "$(sql coordinator -c "SELECT count(*) FROM pg_dist_cleanup
                              WHERE object_name = 'idempotency.guards_$deferred_shard'")" -ge 1 ]
}

purge_beside_deferred_placement() {
  local node deleted
  for node in worker1 worker2; do
    deleted=$(sql "$node" -c 'SELECT idempotency.purge_expired()') || return 1
    echo "$node purged $deleted"
  done
  # worker1's purge left the old placement alone; the live guards are all there.
  expect 20 worker1 "SELECT count(*) FROM idempotency.guards_$deferred_shard
                      WHERE scope = 'deferred'" || return 1
  for node in "${nodes[@]}"; do
    expect_deferred_stats "$node" || return 1
  done
}

after_citus_drops_it() {
  sql coordinator -c 'CALL citus_cleanup_orphaned_resources()' || return 1
  expect "" worker1 "SELECT to_regclass('idempotency.guards_$deferred_shard')" || return 1
  expect 0 coordinator "SELECT count(*) FROM pg_dist_cleanup
                         WHERE object_name = 'idempotency.guards_$deferred_shard'" || return 1
  local node
  for node in "${nodes[@]}"; do
    expect_deferred_stats "$node" || return 1
    expect 10 "$node" "SELECT count(*) FROM idempotency.guards WHERE scope = 'deferred'" || return 1
  done
  # The live guards are still claimed: a second claim of each is refused.
  local key
  for key in $(deferred_keys 1 10); do
    expect f worker1 "SELECT idempotency.claim_guard('deferred', '$key')" || return 1
  done
  sql coordinator -c "ALTER SYSTEM RESET citus.defer_shard_delete_interval" \
    -c 'SELECT pg_reload_conf()' >/dev/null
}

check "deferred cleanup: a shard with live and expired guards moved, its old placement kept" \
  move_with_cleanup_deferred
check "deferred cleanup: each node's purge deletes the expired guards, not the old placement's, no live one" \
  purge_beside_deferred_placement
check "deferred cleanup: once Citus drops the old placement, 10 live guards and no expired one counted on any node" \
  after_citus_drops_it
