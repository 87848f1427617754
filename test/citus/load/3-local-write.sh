# shellcheck shell=bash disable=SC2154  # check, sql, port, dir, nodes, work: scripts/test-citus.sh
# Load test: the local-write pattern. Sourced by scripts/test-citus.sh, last
# (it starts the extension over, distributed by scope).
#
# With guards distributed by scope and co-located with an application table
# distributed by its tenant column, a transaction that claims a key of scope
# T and inserts T's order commits both or neither, and runs on one shard: the
# coordinator sends every statement to a single worker connection and commits
# it without two-phase commit (citus.log_remote_commands shows what it sent).

# A second database, `scoped`, on every node: a Citus cluster of its own with
# guards distributed by scope next to app_orders (in `postgres` they are
# distributed by key, and there is no way back: undistribute_table refuses a
# table an extension owns).
redistribute_by_scope() {
  local node
  for node in "${nodes[@]}"; do
    sql "$node" -c 'CREATE DATABASE scoped' && sql "$node" -d scoped -c 'CREATE EXTENSION citus' || return 1
  done
  sql coordinator -d scoped <<SQL || return 1
SELECT citus_set_coordinator_host('127.0.0.1', ${port[coordinator]});
SELECT citus_add_node('127.0.0.1', ${port[worker1]});
SELECT citus_add_node('127.0.0.1', ${port[worker2]});
CREATE EXTENSION idempotency;
-- the tenant column has guards.scope's type and collation, as co-location needs
CREATE TABLE app_orders (tenant text COLLATE "C" NOT NULL, order_id text NOT NULL,
                         amount int NOT NULL, PRIMARY KEY (tenant, order_id));
SELECT create_distributed_table('app_orders', 'tenant');
SELECT idempotency.distribute(by => 'scope', colocate_with => 'app_orders');
SQL
  expect_scoped "idempotency.guards|scope|t" coordinator "
    SELECT g.logicalrelid::regclass, column_to_column_name(g.logicalrelid, g.partkey),
           g.colocationid = o.colocationid
      FROM pg_dist_partition AS g, pg_dist_partition AS o
     WHERE g.logicalrelid = 'idempotency.guards'::regclass AND o.logicalrelid = 'app_orders'::regclass"
}

expect_scoped() { # expect_scoped EXPECTED NODE STATEMENT, in the database scoped
  local got
  got=$(sql "$2" -d scoped -c "$3") || return 1
  [ "$got" = "$1" ] || { echo "expected '$1', got '$got' from $2: $3"; return 1; }
}

# place_order TENANT ORDER AMOUNT END: claims ORDER in scope TENANT and inserts
# the order in one transaction ended by END (COMMIT or ROLLBACK); prints the
# claim's answer, then the remote commands the coordinator sent (NOTICEs).
place_order() {
  psql -X -q -At -h 127.0.0.1 -p "${port[coordinator]}" -U postgres -d scoped 2>&1 <<SQL
BEGIN;
SET LOCAL citus.log_remote_commands = on;
SELECT idempotency.claim_guard('$1', '$2');
INSERT INTO app_orders VALUES ('$1', '$2', $3);
$4;
SQL
}

# The worker connections a transaction used, from its log_remote_commands NOTICEs.
remote_ports() { grep -oE 'on server [^ ]+' | sort -u; }

single_shard_commit() {
  local out
  out=$(place_order t1 o1 100 COMMIT)
  echo "$out"
  grep -qx t <<<"$out" || return 1
  [ "$(echo "$out" | remote_ports | wc -l)" -eq 1 ] || { echo "more than one worker connection"; return 1; }
  ! grep -q 'PREPARE TRANSACTION' <<<"$out" || { echo "two-phase commit"; return 1; }
  grep -q 'COMMIT' <<<"$out" || { echo "no commit on the worker"; return 1; }
  expect_scoped "1" coordinator "SELECT count(*) FROM app_orders WHERE tenant = 't1' AND order_id = 'o1'" &&
    expect_scoped "pending" coordinator "SELECT status FROM idempotency.lookup('t1', 'o1')"
}

both_on_one_node() {
  # the guard's and the order's shards are placed on the same node
  expect_scoped "1" coordinator "
    SELECT count(DISTINCT p.groupid) FROM pg_dist_placement AS p
     WHERE p.shardid IN (get_shard_id_for_distribution_column('idempotency.guards', 't1'),
                         get_shard_id_for_distribution_column('app_orders', 't1'))"
}

rollback_leaves_nothing() {
  local out
  out=$(place_order t2 o1 100 ROLLBACK)
  echo "$out"
  grep -qx t <<<"$out" || return 1
  expect_scoped "0" coordinator "SELECT count(*) FROM app_orders WHERE tenant = 't2'" &&
    expect_scoped "0" coordinator "SELECT count(*) FROM idempotency.guards WHERE scope = 't2'"
}

failed_insert_rolls_back_the_claim() {
  local out
  # the claim wins, the insert fails (amount NULL): the claim goes with it
  out=$(place_order t1 o2 NULL COMMIT)
  echo "$out"
  grep -qx t <<<"$out" && grep -q 'violates not-null constraint' <<<"$out" || return 1
  expect_scoped "0" coordinator "SELECT count(*) FROM idempotency.guards WHERE scope = 't1' AND key = 'o2'" &&
    expect_scoped "0" coordinator "SELECT count(*) FROM app_orders WHERE tenant = 't1' AND order_id = 'o2'" &&
    # the retry wins the claim again, and this time both commit
    out=$(place_order t1 o2 300 COMMIT) && grep -qx t <<<"$out" &&
    expect_scoped "1" coordinator "SELECT count(*) FROM idempotency.guards WHERE scope = 't1' AND key = 'o2'" &&
    expect_scoped "300" coordinator "SELECT amount FROM app_orders WHERE tenant = 't1' AND order_id = 'o2'"
}

router_plan() {
  # a guard's statements and the order's go to one task (a router plan)
  local plan
  plan=$(sql coordinator -d scoped -c "EXPLAIN (COSTS OFF) SELECT * FROM idempotency.guards
                               WHERE scope = 't3' AND key = 'k'" \
                         -c "EXPLAIN (COSTS OFF) INSERT INTO app_orders VALUES ('t3', 'k', 1)" 2>&1)
  echo "$plan"
  [ "$(echo "$plan" | grep -c 'Task Count: 1')" -eq 2 ]
}

check "local write: guards redistributed by scope, co-located with app_orders" redistribute_by_scope
check "local write: claim + insert commit together on one worker connection, no 2PC" single_shard_commit
check "local write: the guard and the order of a tenant live on the same node" both_on_one_node
check "local write: ROLLBACK leaves neither the claim nor the order" rollback_leaves_nothing
check "local write: a failed insert takes its claim with it; the retry wins" failed_insert_rolls_back_the_claim
check "local write: the guard's and the order's statements are router plans (Task Count: 1)" router_plan
