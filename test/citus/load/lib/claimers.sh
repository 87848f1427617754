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

claim_chunk_script() { # claim_chunk_script SCOPE CHUNK CLIENT [FIRST_INDEX]
  local scope=$1 chunk=$2 client=$3 first=${4:-0} index key
  for index in $(seq "$first" 199); do
    key="$chunk-$(((index * (2 * client + 1)) % 200))"
    printf '%s\n' '\unset won' \
      "SELECT idempotency.claim_guard('$scope', '$key') AS won \\gset" \
      '\if :ERROR' '\echo err '"$key"' :LAST_ERROR_SQLSTATE' '\else' \
      '\echo ack '"$key"' :won' '\endif'
  done
}

claimer() { # claimer SCOPE CLIENT NODE: runs until $work/$SCOPE.stop exists
  local scope=$1 client=$2 node=$3 chunk=0 done_keys
  local log=$work/$scope-client-$client.log
  : >"$log"
  while [ ! -e "$work/$scope.stop" ]; do
    chunk=$((chunk + 1))
    done_keys=0
    while [ "$done_keys" -lt 200 ] && [ ! -e "$work/$scope.stop" ]; do
      claim_chunk_script "$scope" "$chunk" "$client" "$done_keys" |
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

# Retries what failed: every key a client saw an error for is claimed again
# by that client (through the coordinator) until it gets an answer.
retry_failed_claims() { # retry_failed_claims SCOPE
  local scope=$1 log key won
  for log in "$work/$scope"-client-*.log; do
    grep '^err ' "$log" | cut -d' ' -f2 | sort -u | while read -r key; do
      grep -q "^ack $key " "$log" && continue
      won=$(sql coordinator -c "SELECT idempotency.claim_guard('$scope', '$key')") || continue
      echo "ack $key $won" >>"$log"
    done
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
  echo "$scope: $acks acknowledged claims ($won won, $distinct distinct keys won), $errors errors, $guards guards"
  check "$scope: claims were acknowledged during the run" test "$won" -gt 0
  check "$scope: no key was won twice ($won wins, $distinct keys)" test "$won" -eq "$distinct"
  check "$scope: every acknowledged win is a guard" \
    bash -c "comm -23 '$work/$scope.won' '$work/$scope.guards' | head -n 20 | grep . && exit 1; exit 0"
  check "$scope: no guard is stored twice" \
    bash -c "uniq -d '$work/$scope.guards' | head -n 20 | grep . && exit 1; exit 0"
}
