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

source scripts/citus-cluster.sh

work=$(make_cluster_dir citus)
cleanup() {
  if [ "${CITUS_KEEP:-0}" = 1 ]; then
    echo "# CITUS_KEEP=1: nodes left running in $work"
    return
  fi
  citus_stop_nodes
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

# --- the cluster ---
citus_start_nodes "$work" "idempotency.purge_interval = 0" || exit 1
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

citus_join_workers || exit 1
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

# A worker's own guards, claimed there before distribute(), would be hidden
# by the shards: distribute() refuses them. The session that claimed and
# released the guard stays open: its prepared plans and cached description
# of the local table must follow the table once it is distributed.
mkfifo "$work/early.in"
psql -X -q -At -h 127.0.0.1 -p "${port[worker1]}" -U postgres -d postgres \
  <"$work/early.in" >"$work/early.out" 2>&1 &
early_pid=$!
exec {early}>"$work/early.in"
echo "SELECT idempotency.claim_guard('early', 'local');" >&$early
check "distribute() with a worker's own guards: 55000" bash -c "
  for _ in \$(seq 1 50); do grep -q . '$work/early.out' && break; sleep 0.1; done
  got=\$(psql -X -q -h 127.0.0.1 -p ${port[coordinator]} -U postgres -d postgres \
    -c '\\set VERBOSITY sqlstate' -c 'SELECT idempotency.distribute()' 2>&1)
  echo \"\$got\"; [ \"\$got\" = 'ERROR:  55000' ]"
echo "SELECT idempotency.release_guard('early', 'local');" >&$early

check "distribute() on a worker: 55000" expect_sqlstate worker1 55000 'SELECT idempotency.distribute()'
check "distribute(by => 'tenant'): 22023" expect_sqlstate coordinator 22023 "SELECT idempotency.distribute(by => 'tenant')"
check "distribute() on the coordinator" sql coordinator -c 'SELECT idempotency.distribute()'
check "distribute() again is harmless" sql coordinator -c 'SELECT idempotency.distribute()'
check "distribute(by => 'scope') once distributed by key: 55000" \
  expect_sqlstate coordinator 55000 "SELECT idempotency.distribute(by => 'scope')"
check "guards distributed by key, the configuration tables are reference tables" \
  expect "idempotency.guards|h|key
idempotency.retention_policies|n|
idempotency.scope_access|n|
idempotency.scope_limits|n|" coordinator \
  "SELECT logicalrelid::regclass::text, partmethod,
          coalesce(column_to_column_name(logicalrelid, partkey), '')
     FROM pg_dist_partition WHERE logicalrelid::regclass::text LIKE 'idempotency.%' ORDER BY 1"
# The early session on worker1 (plans prepared, table described before
# distribute()) claims through the shards: the coordinator sees its guards.
early_session_uses_shards() {
  local k
  for k in $(seq 1 20); do
    echo "SELECT idempotency.claim_guard('early', 'k$k');" >&$early
  done
  echo "SELECT 'early done';" >&$early
  for _ in $(seq 1 100); do grep -q 'early done' "$work/early.out" && break; sleep 0.1; done
  cat "$work/early.out"
  [ "$(grep -c '^t$' "$work/early.out")" = 22 ] || return 1
  expect 20 coordinator "SELECT count(*) FROM idempotency.guards WHERE scope = 'early'"
}
check "a worker session opened before distribute() claims into the shards" early_session_uses_shards
exec {early}>&-
wait "$early_pid"

# --- the client API: same answers on a plain server, the coordinator, a worker ---
# The client role: in the plain database, and once on the coordinator, whose
# GRANTs and reference-table writes reach every node.
sql coordinator -c 'CREATE ROLE conf_client' || exit 1
client_setup="
SELECT idempotency.grant_client('conf_client');
SELECT idempotency.restrict_scopes('conf_client', ARRAY['conf']);"
psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "${port[coordinator]}" -U postgres -d plain \
  -c "$client_setup" >/dev/null || exit 1
sql coordinator -c "$client_setup" >/dev/null || exit 1
for database_node in "plain:coordinator" "postgres:coordinator" "postgres:worker1"; do
  database=${database_node%%:*} node=${database_node#*:}
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

check "set_retention(..., apply_to_existing => true) on the coordinator re-dates the guards of every shard" bash -c "
  psql -X -q -At -h 127.0.0.1 -p ${port[worker1]} -U postgres -d postgres -v ON_ERROR_STOP=1 \
    -c \"SELECT count(idempotency.claim_guard('redate', k::text)) FROM generate_series(1, 30) AS k\" >/dev/null &&
  psql -X -q -At -h 127.0.0.1 -p ${port[coordinator]} -U postgres -d postgres -v ON_ERROR_STOP=1 \
    -c \"SELECT idempotency.set_retention('redate', '3 hours', apply_to_existing => true)\" >/dev/null &&
  got=\$(psql -X -q -At -h 127.0.0.1 -p ${port[worker2]} -U postgres -d postgres \
    -c \"SELECT count(*), min(expires_at - claimed_at), max(expires_at - claimed_at) FROM idempotency.guards WHERE scope = 'redate'\") &&
  echo \"\$got\" && [ \"\$got\" = '30|03:00:00|03:00:00' ]"

# A limit set on the coordinator holds across nodes: a node's first claim of
# the scope counts the guards of every shard (later, each node counts its own
# claims and counts every shard again when it reaches the limit).
limit_across_nodes() {
  sql coordinator -c "SELECT idempotency.set_limits('capped', max_live => 2)" >/dev/null || return 1
  expect t worker1 "SELECT idempotency.claim_guard('capped', 'first')" || return 1
  expect t coordinator "SELECT idempotency.claim_guard('capped', 'second')" || return 1
  expect_sqlstate worker2 IK005 "SELECT idempotency.claim_guard('capped', 'third')"
}
check "a limit set on the coordinator counts the claims of every node: IK005" limit_across_nodes

# A prefix ending in U+00BF ("¿", bytes C2 BF): the recount's upper bound,
# which Citus sends to the shards as text, must be valid UTF-8 (C3 80, not
# the C2 C0 of adding 1 to the last byte).
prefix_limit_in_utf8() {
  sql coordinator -c "SELECT idempotency.set_limits('menu-¿*', max_live => 1)" >/dev/null || return 1
  expect t worker1 "SELECT idempotency.claim_guard('menu-¿es', 'first')" || return 1
  expect_sqlstate worker2 IK005 "SELECT idempotency.claim_guard('menu-¿fr', 'second')"
}
check "a prefix limit ending in a multi-byte character holds across nodes: IK005" prefix_limit_in_utf8

# by => 'scope', co-located with an application table distributed by tenant,
# in a second database of the same three nodes.
distributed_by_scope() {
  local node
  sql coordinator -c 'CREATE DATABASE byscope' >/dev/null 2>&1 || return 1
  for node in worker1 worker2; do
    sql "$node" -c 'SET citus.enable_ddl_propagation = off' -c 'CREATE DATABASE byscope' || return 1
  done
  for node in "${nodes[@]}"; do
    sql "$node" -d byscope -c 'CREATE EXTENSION citus' -c 'CREATE EXTENSION idempotency' || return 1
  done
  sql coordinator -d byscope >/dev/null <<SQL || return 1
SELECT citus_set_coordinator_host('127.0.0.1', ${port[coordinator]});
SELECT citus_add_node('127.0.0.1', ${port[worker1]});
SELECT citus_add_node('127.0.0.1', ${port[worker2]});
CREATE TABLE orders (tenant text COLLATE "C", id bigint, PRIMARY KEY (tenant, id));
SELECT create_distributed_table('orders', 'tenant');
SELECT idempotency.distribute(by => 'scope', colocate_with => 'orders');
SQL
  sql coordinator -d byscope -c "
    SELECT p.logicalrelid::regclass, column_to_column_name(p.logicalrelid, p.partkey),
           p.colocationid = (SELECT colocationid FROM pg_dist_partition
                              WHERE logicalrelid = 'orders'::regclass)
      FROM pg_dist_partition AS p WHERE p.logicalrelid = 'idempotency.guards'::regclass" || return 1
  [ "$(sql worker1 -d byscope -c "SELECT idempotency.claim_guard('tenant-1', 'k')")" = t ] &&
    [ "$(sql worker2 -d byscope -c "SELECT idempotency.claim_guard('tenant-1', 'k')")" = f ] &&
    [ "$(sql coordinator -d byscope -c "SELECT status FROM idempotency.lookup('tenant-1', 'k')")" = pending ] &&
    [ "$(sql coordinator -d byscope -c "
      SELECT p.colocationid = o.colocationid FROM pg_dist_partition AS p, pg_dist_partition AS o
       WHERE p.logicalrelid = 'idempotency.guards'::regclass AND o.logicalrelid = 'orders'::regclass")" = t ]
}
check "distribute(by => 'scope', colocate_with => an application table): co-located, one winner across nodes" distributed_by_scope

# --- claims in one hop: test/citus/one_hop_claim.sql, a wrapper the
# coordinator inlines into a delegated call (docs/scaling.md) ---
check "one hop: test/citus/one_hop_claim.sql installs on the coordinator" \
  sql coordinator -f test/citus/one_hop_claim.sql

# The worker holding the shard of KEY: its port.
shard_port_of() {
  sql coordinator -c "
    SELECT n.nodeport FROM pg_dist_placement AS p JOIN pg_dist_node AS n USING (groupid)
     WHERE p.shardid = get_shard_id_for_distribution_column('idempotency.guards', '$1')"
}

# remote_commands NODE STATEMENT: the statement's answer, then what the
# coordinator sent to workers for it (citus.log_remote_commands NOTICEs).
remote_commands() {
  psql -X -q -At -h 127.0.0.1 -p "${port[$1]}" -U postgres -d postgres \
    -c 'SET citus.log_remote_commands = on' -c "$2" 2>&1
}

one_round_trip() {
  local out key=$1 expected=$2 shard_port
  shard_port=$(shard_port_of "$key") || return 1
  out=$(remote_commands coordinator "SELECT one_hop.claim_guard('hop', '$key')")
  echo "$out"
  [ "$(grep -vE '^(NOTICE|DETAIL)' <<<"$out")" = "$expected" ] || {
    echo "expected the answer $expected"
    return 1
  }
  [ "$(grep -c 'issuing' <<<"$out")" -eq 1 ] || { echo "not one remote command"; return 1; }
  grep -q 'issuing SELECT one_hop.claim_on_shard(' <<<"$out" || { echo "not the delegated call"; return 1; }
  grep -qE "on server [^ ]*:$shard_port( |$)" <<<"$out" || { echo "not sent to port $shard_port"; return 1; }
}
check "one hop: a claim through the coordinator is one command to the key's worker" one_round_trip hop-1 t
check "one hop: the second claim of the key, one command too, is refused" one_round_trip hop-1 f
# For comparison, in the log only: idempotency.claim_guard through the coordinator.
echo "# one hop: idempotency.claim_guard through the coordinator sent" \
  "$(remote_commands coordinator "SELECT idempotency.claim_guard('hop', 'hop-2')" | grep -c issuing)" \
  "remote commands; one_hop.claim_guard sent 1"

one_hop_answers_as_claim_guard() {
  expect pending coordinator "SELECT status FROM idempotency.lookup('hop', 'hop-1')" || return 1
  expect t worker2 "SELECT one_hop.claim_guard('hop', 'hop-ttl', ttl => '2 hours')" || return 1
  expect 02:00:00 coordinator "SELECT expires_at - claimed_at FROM idempotency.lookup('hop', 'hop-ttl')" ||
    return 1
  expect t coordinator "SELECT one_hop.claim_guard('hop', 'hop-fp', fingerprint => 'f1')" || return 1
  local plain
  plain=$(sqlstate coordinator "SELECT idempotency.claim_guard('hop', 'hop-fp', fingerprint => 'f2')")
  echo "idempotency.claim_guard with another fingerprint: $plain"
  [ -n "$plain" ] && expect_sqlstate coordinator "$plain" \
    "SELECT one_hop.claim_guard('hop', 'hop-fp', fingerprint => 'f2')"
}
check "one hop: answers, options (ttl, fingerprint) and errors as idempotency.claim_guard, through the coordinator and a worker" \
  one_hop_answers_as_claim_guard

# A NULL key or scope is 22004, planned as a constant, as a prepared
# statement's parameter (custom plans, then the generic plan after five
# executions), and never reaches Citus's delegation; a direct call of the
# delegated function with a NULL key is NULL. The coordinator never restarts.
null_key_never_crashes() {
  local started out
  started=$(sql coordinator -c 'SELECT pg_postmaster_start_time()') || return 1
  expect_sqlstate coordinator 22004 "SELECT one_hop.claim_guard('hop', NULL)" || return 1
  expect_sqlstate coordinator 22004 "SELECT one_hop.claim_guard(NULL, 'hop-3')" || return 1
  expect_sqlstate coordinator 22004 "SELECT * FROM one_hop.claim_guard('hop', NULL)" || return 1
  out=$(psql -X -q -At -h 127.0.0.1 -p "${port[coordinator]}" -U postgres -d postgres 2>&1 <<SQL
\\set VERBOSITY sqlstate
PREPARE claim(text, text) AS SELECT one_hop.claim_guard(\$1, \$2);
$(for _ in $(seq 1 8); do echo "EXECUTE claim('hop', NULL);"; done)
EXECUTE claim('hop', 'hop-prepared');
SQL
  )
  echo "$out"
  [ "$(grep -cx 'ERROR:  22004' <<<"$out")" -eq 8 ] && [ "$(tail -n 1 <<<"$out")" = t ] || return 1
  expect "" coordinator \
    "SELECT one_hop.claim_on_shard(NULL, 'hop', ROW(NULL, NULL, NULL, NULL)::one_hop.claim_options)" ||
    return 1
  expect "$started" coordinator 'SELECT pg_postmaster_start_time()' || return 1
  ! grep -E 'terminated by signal|PANIC' "$(node_log coordinator)"
}
check "one hop: a NULL key or scope is 22004 (constant, prepared, generic plan), never a crash" \
  null_key_never_crashes

# --- waits from any node: the guard's owner connected to worker1, its shard
# on worker2, retries waiting (claim_or_lookup(..., wait => '60 s')) through
# the coordinator and worker2. Nobody on their nodes commits the answer: they
# see it by re-checking every 100 ms (src/core/cross_node_wait.hpp). Bound
# checked: 1 s from the answering commit (100 ms + a claim's round trip
# through Citus, with a margin for a loaded 2-core machine running four
# servers); without the re-check they would answer after 60 s. ---

# key_placed_on NODE PREFIX: the first PREFIX-N whose guards shard is on NODE.
key_placed_on() {
  sql coordinator -c "
    SELECT '$2-' || i FROM generate_series(1, 1000) AS i
      JOIN pg_dist_placement AS p
        ON p.shardid = get_shard_id_for_distribution_column('idempotency.guards', '$2-' || i)
      JOIN pg_dist_node AS n USING (groupid)
     WHERE n.nodeport = ${port[$1]} ORDER BY i LIMIT 1"
}

# start_waiter NODE KEY: a retry waiting on NODE, in the background; its
# answer and the instant it returned go to $work/wait-NODE.out.
waiter_pids=()
start_waiter() {
  psql -X -q -At -h 127.0.0.1 -p "${port[$1]}" -U postgres -d postgres -c "
    SELECT claimed, status, coalesce(outcome::text, ''), claimed_at,
           extract(epoch FROM clock_timestamp())
      FROM idempotency.claim_or_lookup('anynode', '$2', wait => '60 s')" >"$work/wait-$1.out" 2>&1 &
  waiter_pids+=($!)
}

# waiting_on NODE: true once a claim_or_lookup call is active on NODE.
waiting_on() {
  local _
  for _ in $(seq 1 100); do
    [ "$(sql "$1" -c "SELECT count(*) FROM pg_stat_activity
                       WHERE query LIKE '%claim_or_lookup(''anynode''%' AND state = 'active'
                         AND pid <> pg_backend_pid()")" -ge 1 ] && return 0
    sleep 0.1
  done
  echo "no waiter active on $1"
  return 1
}

now_epoch() { sql coordinator -c "SELECT extract(epoch FROM clock_timestamp())"; }

# answered_within NODE SINCE EXPECTED: NODE's waiter answered EXPECTED
# ("claimed|status|outcome") at most 1 s after SINCE (epoch seconds).
answered_within() {
  local line answer delay_ms
  line=$(cat "$work/wait-$1.out")
  answer=${line%|*|*}
  delay_ms=$(awk -v end="${line##*|}" -v since="$2" 'BEGIN { printf "%d", (end - since) * 1000 }')
  echo "$1's waiter: $line, $delay_ms ms after the commit"
  echo "# waits: $1's waiter answered ${delay_ms} ms after the commit" >>"$work/wait-delays"
  [ "$answer" = "$3" ] && [ "$delay_ms" -ge 0 ] && [ "$delay_ms" -le 1000 ]
}

# The waiters return in either order: the one that claimed and the other.
claimer_of() { grep -l '^t|' "$work"/wait-coordinator.out "$work"/wait-worker2.out | head -n 1; }

wait_answered_from_any_node() { # wait_answered_from_any_node record|release|rollback
  local ending=$1 key since pid status=0
  key=$(key_placed_on worker2 "anynode-$ending") || return 1
  echo "key $key (shard on worker2); owner on worker1; waiters on the coordinator and worker2"
  rm -f "$work"/wait-*.out
  waiter_pids=()
  mkfifo "$work/owner.in"
  psql -X -q -At -h 127.0.0.1 -p "${port[worker1]}" -U postgres -d postgres \
    <"$work/owner.in" >"$work/owner.out" 2>&1 &
  local owner_pid=$!
  exec {owner}>"$work/owner.in"
  if [ "$ending" = rollback ]; then echo "BEGIN;" >&$owner; fi
  echo "SELECT idempotency.claim_guard('anynode', '$key');" >&$owner
  for _ in $(seq 1 100); do grep -q . "$work/owner.out" && break; sleep 0.1; done
  start_waiter coordinator "$key"
  start_waiter worker2 "$key"
  waiting_on coordinator && waiting_on worker2 || status=1
  sleep 0.5
  since=$(now_epoch)
  case "$ending" in
    record) echo "SELECT idempotency.record_outcome('anynode', '$key', 'succeeded', '{\"n\": 1}');" >&$owner ;;
    release) echo "SELECT idempotency.release_guard('anynode', '$key');" >&$owner ;;
    rollback) echo "ROLLBACK;" >&$owner ;;
  esac
  # The owner's session ends once the waiters have: they inherited its pipe.
  end_owner() {
    exec {owner}>&-
    wait "$owner_pid"
    rm -f "$work/owner.in"
    cat "$work/owner.out"
  }
  if [ "$ending" = record ]; then
    for pid in "${waiter_pids[@]}"; do wait "$pid"; done
    end_owner
    answered_within coordinator "$since" 'f|succeeded|{"n": 1}' || status=1
    answered_within worker2 "$since" 'f|succeeded|{"n": 1}' || status=1
    return $status
  fi
  # Released or rolled back: one waiter claims the key; the other then waits
  # for that claim's answer, recorded here through worker1.
  local claimer="" other
  for _ in $(seq 1 100); do claimer=$(claimer_of) && [ -n "$claimer" ] && break; sleep 0.05; done
  [ -n "$claimer" ] || {
    echo "no waiter claimed the key"
    for pid in "${waiter_pids[@]}"; do wait "$pid"; done
    end_owner
    cat "$work"/wait-*.out
    return 1
  }
  claimer=$(basename "$claimer" .out) claimer=${claimer#wait-}
  other=worker2 && [ "$claimer" = worker2 ] && other=coordinator
  answered_within "$claimer" "$since" 't|pending|' || status=1
  sleep 0.5
  since=$(now_epoch)
  sql worker1 -c "SELECT idempotency.record_outcome('anynode', '$key', 'succeeded', '{\"n\": 2}')" ||
    status=1
  for pid in "${waiter_pids[@]}"; do wait "$pid"; done
  end_owner
  answered_within "$other" "$since" 'f|succeeded|{"n": 2}' || status=1
  return $status
}
check "waits: an outcome recorded through worker1 answers waiters on the coordinator and worker2 within 1 s" \
  wait_answered_from_any_node record
check "waits: a release through worker1 lets one waiter claim within 1 s; its outcome answers the other" \
  wait_answered_from_any_node release
check "waits: a rollback on worker1 lets one waiter claim within 1 s; its outcome answers the other" \
  wait_answered_from_any_node rollback
cat "$work/wait-delays"

# --- races: 12 clients over the three nodes claim the same 300 keys, each
# claim its own transaction, each client in its own order ---
race() {
  local pids=() node client
  for client in $(seq 1 12); do
    node=${nodes[$((client % 3))]}
    for k in $(seq 1 300); do
      echo "SELECT $(( (k * client) % 300 + 1 )), idempotency.claim_guard('race', '$(( (k * client) % 300 + 1 ))');"
    done | psql -X -q -At -h 127.0.0.1 -p "${port[$node]}" -U postgres -d postgres \
      >"$work/race-$client.out" 2>&1 &
    pids+=($!)
  done
  local status=0
  for pid in "${pids[@]}"; do wait "$pid" || status=1; done
  grep -v '|[tf]$' "$work"/race-*.out && status=1
  local winners keys
  winners=$(cat "$work"/race-*.out | grep -c '|t$')
  keys=$(cat "$work"/race-*.out | grep '|t$' | cut -d'|' -f1 | sort -u | wc -l)
  echo "winners $winners, distinct keys won $keys"
  [ $status -eq 0 ] && [ "$winners" -eq 300 ] && [ "$keys" -eq 300 ]
}
check "races over three nodes: exactly one winner per key" race

# --- the purge: each node's purge worker empties its own shards ---
# 240 guards that expire at once, claimed through the coordinator, spread
# over the shards of both workers; purge workers every 500 ms on every node.
purged_by_node_workers() {
  local node total=0 deleted remaining
  sql coordinator -c "SELECT count(idempotency.claim_guard('purge', k::text, ttl => '1 ms'))
                        FROM generate_series(1, 240) AS k" >/dev/null || return 1
  for node in "${nodes[@]}"; do
    sql "$node" -c "ALTER SYSTEM SET idempotency.purge_interval = '500ms'" -c 'SELECT pg_reload_conf()' \
      >/dev/null || return 1
  done
  for _ in $(seq 1 60); do
    remaining=$(sql coordinator -c "SELECT count(*) FROM idempotency.guards WHERE scope = 'purge'")
    [ "$remaining" = 0 ] && break
    sleep 0.5
  done
  echo "guards of scope purge left: $remaining"
  for node in worker1 worker2; do
    deleted=$(sql "$node" -c "SELECT total_deleted FROM idempotency.worker_status() WHERE database = 'postgres'")
    echo "$node's purge worker deleted: $deleted"
    [ "${deleted:-0}" -gt 0 ] || return 1
    total=$((total + deleted))
  done
  deleted=$(sql coordinator -c "SELECT total_deleted FROM idempotency.worker_status() WHERE database = 'postgres'")
  echo "the coordinator's purge worker (no shards) deleted: $deleted"
  [ "$remaining" = 0 ] && [ "$total" -ge 240 ] && [ "${deleted:-1}" = 0 ]
}
check "the purge workers of the workers delete the expired guards of their shards" purged_by_node_workers
# purge_expired() by hand purges the shards of the node it runs on.
purge_by_hand_per_node() {
  local node coordinator_deleted worker_deleted=0 deleted
  for node in "${nodes[@]}"; do
    sql "$node" -c "ALTER SYSTEM SET idempotency.purge_interval = 0" -c 'SELECT pg_reload_conf()' \
      >/dev/null || return 1
  done
  sleep 1
  sql coordinator -c "SELECT count(idempotency.claim_guard('byhand', k::text, ttl => '1 ms'))
                        FROM generate_series(1, 40) AS k" >/dev/null || return 1
  sleep 0.1
  coordinator_deleted=$(sql coordinator -c 'SELECT idempotency.purge_expired()') || return 1
  for node in worker1 worker2; do
    deleted=$(sql "$node" -c 'SELECT idempotency.purge_expired()') || return 1
    echo "$node deleted $deleted"
    [ "$deleted" -gt 0 ] || return 1
    worker_deleted=$((worker_deleted + deleted))
  done
  echo "coordinator deleted $coordinator_deleted, the workers $worker_deleted"
  [ "$coordinator_deleted" = 0 ] && [ "$worker_deleted" = 40 ]
}
check "purge_expired() deletes the expired guards of its own node's shards" purge_by_hand_per_node

# --- load tests: test/citus/load/*.sh, sourced in name order (they use check,
# sql, expect, port, dir and work; each leaves the cluster up for the next) ---
for load_test in test/citus/load/*.sh; do
  [ -z "${CITUS_LOAD_TESTS:-}" ] || [[ " $CITUS_LOAD_TESTS " == *" $(basename "$load_test" .sh) "* ]] ||
    continue
  source "$load_test"
done

echo "citus: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
