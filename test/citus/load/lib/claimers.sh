# shellcheck shell=bash disable=SC2154  # check, sql, port, dir, nodes, work: scripts/test-citus.sh
# Claiming clients for the load tests, sourced by them (inside
# scripts/test-citus.sh, whose `port`, `nodes` and `work` they use).
#
#   start_claimers SCOPE CLIENTS   starts CLIENTS clients, spread over the three
#                                  nodes, claiming keys of SCOPE until stop_claimers
#   stop_claimers SCOPE            stops them and waits
#   check_claims SCOPE             the checks on what they logged (see below)
#
# Client N claims the keys of chunk 1, 2, 3, ... (200 keys each, "chunk-key"),
# every client in its own order, so that clients race on the same keys. Each
# chunk is one psql run of autocommitted claims; a claim counts as
# acknowledged only when psql saw it succeed (no error, not even at commit),
# and is then logged as "ack KEY t|f". A psql run that ends early (its node went
# away) is retried from the first key it did not acknowledge, so keys whose
# claim failed are claimed again: a client may retry and must still win at
# most once.

claim_script() { # claim_script SCOPE < KEYS: one autocommitted claim per key
  local scope=$1 key
  while read -r key; do
    printf '%s\n' '\unset won' \
      "SELECT idempotency.claim_guard('$scope', '$key') AS won \\gset" \
      '\if :ERROR' '\echo err '"$key"' :LAST_ERROR_SQLSTATE' '\else' \
      '\echo ack '"$key"' :won' '\endif'
  done
}

chunk_keys() { # chunk_keys CHUNK CLIENT FIRST_INDEX: the client's keys of a chunk, in its order
  local index
  for index in $(seq "$3" 199); do echo "$1-$(((index * (2 * $2 + 1)) % 200))"; done
}

claimer() { # claimer SCOPE CLIENT NODE: runs until $work/$SCOPE.stop exists
  local scope=$1 client=$2 node=$3 chunk=0 done_keys
  local log=$work/$scope-client-$client.log
  : >"$log"
  while [ ! -e "$work/$scope.stop" ]; do
    chunk=$((chunk + 1))
    done_keys=0
    while [ "$done_keys" -lt 200 ] && [ ! -e "$work/$scope.stop" ]; do
      chunk_keys "$chunk" "$client" "$done_keys" | claim_script "$scope" |
        psql -X -q -At -h 127.0.0.1 -p "${port[$node]}" -U postgres -d postgres \
          -v ON_ERROR_STOP=0 >>"$log" 2>/dev/null
      # acknowledged or failed keys of this chunk so far: the next run starts after them
      done_keys=$(grep -cE "^(ack|err) $chunk-" "$log")
      [ "$done_keys" -lt 200 ] && sleep 0.2 # the node is away: wait, then retry
    done
  done
}

start_claimers() { # start_claimers SCOPE CLIENTS
  local scope=$1 clients=$2 client
  rm -f "$work/$scope.stop"
  claimer_pids=()
  for client in $(seq 1 "$clients"); do
    claimer "$scope" "$client" "${nodes[$((client % 3))]}" &
    claimer_pids+=($!)
  done
}

stop_claimers() { # stop_claimers SCOPE
  touch "$work/$1.stop"
  local pid
  for pid in "${claimer_pids[@]}"; do wait "$pid"; done
}

# Retries what failed: the keys each client saw an error for (and got no
# answer for since) are claimed again by that client, through the coordinator.
retry_failed_claims() { # retry_failed_claims SCOPE
  local scope=$1 log
  for log in "$work/$scope"-client-*.log; do
    comm -23 <(grep '^err ' "$log" | cut -d' ' -f2 | sort -u) \
      <(grep '^ack ' "$log" | cut -d' ' -f2 | sort -u) >"$log.retry"
    claim_script "$scope" <"$log.retry" |
      psql -X -q -At -h 127.0.0.1 -p "${port[coordinator]}" -U postgres -d postgres >>"$log" 2>/dev/null
  done
}

# What the clients were told, against what the guards hold:
# - no key was won (acknowledged t) twice, by any clients over all retries;
# - every key acknowledged t is a guard of SCOPE, and no guard is there twice.
check_claims() { # check_claims SCOPE
  local scope=$1
  cat "$work/$scope"-client-*.log | grep '^ack .* t$' | cut -d' ' -f2 | sort >"$work/$scope.won"
  sql coordinator -c "SELECT key FROM idempotency.guards WHERE scope = '$scope'" |
    sort >"$work/$scope.guards"
  local won distinct acks errors guards
  won=$(wc -l <"$work/$scope.won")
  distinct=$(sort -u "$work/$scope.won" | wc -l)
  acks=$(cat "$work/$scope"-client-*.log | grep -c '^ack ')
  errors=$(cat "$work/$scope"-client-*.log | grep -c '^err ')
  guards=$(wc -l <"$work/$scope.guards")
  echo "# $scope: $acks acknowledged claims ($won won, $distinct distinct keys won), $errors errors, $guards guards"
  check "$scope: claims were acknowledged during the run" test "$won" -gt 0
  check "$scope: no key was won twice ($won wins, $distinct keys)" test "$won" -eq "$distinct"
  check "$scope: every acknowledged win is a guard" \
    bash -c "comm -23 '$work/$scope.won' '$work/$scope.guards' | head -n 20 | grep . && exit 1; exit 0"
  check "$scope: no guard is stored twice" \
    bash -c "uniq -d '$work/$scope.guards' | head -n 20 | grep . && exit 1; exit 0"
}
