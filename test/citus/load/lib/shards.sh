# shellcheck shell=bash disable=SC2154  # sql, port: scripts/test-citus.sh
# Where the shards of idempotency.guards are placed. Sourced by the load tests.

guards_shards_on() { # guards_shards_on NODE: the shard ids of guards placed there
  sql coordinator -c "
    SELECT s.shardid FROM pg_dist_shard AS s JOIN pg_dist_placement AS p USING (shardid)
      JOIN pg_dist_node AS n USING (groupid)
     WHERE s.logicalrelid = 'idempotency.guards'::regclass AND n.nodeport = ${port[$1]}
     ORDER BY s.shardid"
}
