#!/usr/bin/env bash
# Tests of pay.sh against a running cluster (libpq environment). Prints TAP
# (`ok N - name` / `not ok N - name`, diagnostics as `# ...`) and exits
# non-zero if any check failed.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'wait; rm -rf "$work"' EXIT

KEYS=20
LOSS=50           # percent of responses the network loses
CLIENT_TIMEOUT=0.03
# How long an attempt waits for a pending first attempt: generous, so that a
# loaded machine does not turn a slow first attempt into a failed test.
export PAY_WAIT=60

# The same request gives the same fingerprint in every example (python, node,
# cpp, psql, http): sha256 of the JSON with sorted keys, no white space, UTF-8.
SHARED_FINGERPRINT=fee932217ae4fd82a30094ed5970309d51b0aa22f09f13d9a8ad03007f242730

q() { psql -X -q -At -v ON_ERROR_STOP=1 "$@"; }

new_scope() { echo "psql-$1-$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')"; }

# charges SCOPE: "KEY COUNT FIRST_CHARGE_ID" per key charged.
charges() {
  q -v scope="$1" <<'SQL'
SELECT substr(reference, length(:'scope') + 2), count(*), min(charge_id)
  FROM examples.ledger WHERE reference LIKE :'scope' || '/%' GROUP BY 1;
SQL
}

charge_count() {  # charge_count SCOPE KEY
  q -v reference="$1/$2" <<'SQL'
SELECT count(*) FROM examples.ledger WHERE reference = :'reference';
SQL
}

stored() {  # stored SCOPE KEY: "STATUS OUTCOME" of the live guard
  q -v scope="$1" -v key="$2" <<'SQL'
SELECT status || ' ' || outcome::text FROM idempotency.lookup(:'scope', :'key');
SQL
}

# pay_blindly SCOPE KEY CUSTOMER AMOUNT: the control, without the guard: retry
# the provider until it answers, whether or not it charged before.
pay_blindly() {
  local attempt charge
  for attempt in $(seq 20); do
    charge=$("$here/provider.sh" charge "$1/$2" "$3" "$4")
    case $? in
      0) echo "charged succeeded $charge"; return 0 ;;
      10) echo "charged failed"; return 0 ;;
    esac
  done
  return 1
}

# send PAY SCOPE KEY CUSTOMER AMOUNT DIR SEED: a client behind a network that
# loses responses. It retries, concurrently from the second round on (5
# attempts at most), until an answer arrives; every attempt runs to the end.
# Attempt N's reply goes to DIR/KEY.N and its exit status to DIR/KEY.N.status.
send() {
  local pay=$1 scope=$2 key=$3 customer=$4 amount=$5 dir=$6 n=0 senders i answered
  RANDOM=$7
  for senders in 1 2 2; do
    answered=
    for ((i = 0; i < senders; i++)); do
      n=$((n + 1))
      (
        "$pay" "$scope" "$key" "$customer" "$amount" >"$dir/$key.$n" 2>"$dir/$key.$n.err"
        echo $? >"$dir/$key.$n.status"
      ) &
      if [ $((RANDOM % 100)) -ge $LOSS ] && [ -z "$answered" ]; then answered=$!; fi
    done
    if [ -n "$answered" ]; then
      wait "$answered"
      break
    fi
    sleep $CLIENT_TIMEOUT
  done
  wait
}

# run_clients PAY SCOPE DIR SEED: KEYS payments at once, their keys in DIR/keys
# as "KEY CUSTOMER AMOUNT".
run_clients() {
  local pay=$1 scope=$2 dir=$3 seed=$4 number customer client=0
  mkdir -p "$dir"
  RANDOM=$seed
  for ((number = 0; number < KEYS; number++)); do
    customer=customer-$number
    [ $((number % 7)) -eq 3 ] && customer=declined-eve
    echo "order-$number-$RANDOM$RANDOM $customer $((100 + RANDOM % 9900))"
  done >"$dir/keys"
  while read -r key customer amount; do
    send "$pay" "$scope" "$key" "$customer" "$amount" "$dir" "$((seed * 1000 + client))" &
    client=$((client + 1))
  done <"$dir/keys"
  wait
}

test_fingerprint() {
  local scope key customer
  scope=$(new_scope fingerprint) key=k1
  customer=$(printf 'Zo\xc3\xab "Z" \xc3\x9cnal\n\x01')
  PROVIDER_REFUSE=0 PROVIDER_TIMEOUT_AFTER=0 PROVIDER_TIMEOUT_BEFORE=0 \
    "$here/pay.sh" "$scope" "$key" "$customer" 1250 EUR >/dev/null || return 1
  local fingerprint
  fingerprint=$(q -v scope="$scope" -v key="$key" <<'SQL'
SELECT fingerprint FROM idempotency.lookup(:'scope', :'key');
SQL
  )
  [ "$fingerprint" = "$SHARED_FINGERPRINT" ] || { echo "fingerprint $fingerprint"; return 1; }
}

test_unguarded_run_double_charges() {
  local scope twice
  scope=$(new_scope unguarded)
  run_clients pay_blindly "$scope" "$work/unguarded" 1
  twice=$(charges "$scope" | awk -F'|' '$2 > 1' | wc -l)
  echo "unguarded: $twice keys charged more than once"
  [ "$twice" -gt 0 ] || { echo "no key was charged twice without the guard: the scenario proves nothing"; return 1; }
}

test_guarded_run_charges_once() {
  local scope dir=$work/guarded errors=0
  scope=$(new_scope guarded)
  export PAY_EVENTS=$dir/events
  run_clients "$here/pay.sh" "$scope" "$dir" 2
  unset PAY_EVENTS
  local attempts
  attempts=$(ls "$dir" | grep -c '\.status$')
  echo "guarded: $attempts attempts for $KEYS keys; events $(sort "$dir/events" | uniq -c | awk '{printf "%s=%s ", $2, $1}')"
  [ "$attempts" -gt "$KEYS" ] || { echo "no retries were sent"; return 1; }
  charges "$scope" >"$dir/charges"
  local key customer amount count first_id replies firsts distinct reply
  while read -r key customer amount; do
    count=$(awk -F'|' -v key="$key" '$1 == key { print $2 }' "$dir/charges")
    first_id=$(awk -F'|' -v key="$key" '$1 == key { print $3 }' "$dir/charges")
    if [[ $customer == declined* ]]; then
      [ -z "$count" ] || { echo "$key: declined, but charged $count times"; errors=1; }
    else
      [ "$count" = 1 ] || { echo "$key: charged ${count:-0} times"; errors=1; }
    fi
    for status in "$dir/$key".*.status; do
      [ "$(cat "$status")" = 0 ] || { echo "$key: an attempt exited $(cat "$status"): $(cat "${status%.status}.err")"; errors=1; }
    done
    replies=$(cat $(ls "$dir/$key".* | grep -E '\.[0-9]+$'))
    firsts=$(grep -c '^charged ' <<<"$replies")
    [ "$firsts" = 1 ] || { echo "$key: $firsts attempts charged"; errors=1; }
    if grep -qvE '^(charged|replayed) ' <<<"$replies"; then echo "$key: replies $replies"; errors=1; fi
    distinct=$(cut -d' ' -f2- <<<"$replies" | sort -u)
    [ "$(wc -l <<<"$distinct")" = 1 ] || { echo "$key: different replies: $distinct"; errors=1; }
    if [[ $customer == declined* ]]; then
      [[ $distinct == "failed "*card_declined* ]] || { echo "$key: $distinct"; errors=1; }
    else
      [[ $distinct == "succeeded "*"\"charge_id\": $first_id"[,}]* ]] ||
        { echo "$key: reply $distinct, charge $first_id"; errors=1; }
    fi
    reply=$(stored "$scope" "$key")
    [ "$reply" = "$distinct" ] || { echo "$key: stored $reply, replied $distinct"; errors=1; }
  done <"$dir/keys"
  for event in pending timeout reconciled recorded; do
    grep -qx "$event" "$dir/events" || { echo "no $event event"; errors=1; }
  done
  return $errors
}

reliable() { PROVIDER_REFUSE=0 PROVIDER_TIMEOUT_AFTER=0 PROVIDER_TIMEOUT_BEFORE=0 "$@"; }

test_key_reused_for_another_request() {
  local scope first again other status
  scope=$(new_scope reuse)
  first=$(reliable "$here/pay.sh" "$scope" k1 ann 500) || return 1
  again=$(reliable "$here/pay.sh" "$scope" k1 ann 500) || return 1
  other=$(reliable "$here/pay.sh" "$scope" k1 ann 5000)
  status=$?
  [[ $first == "charged succeeded "* ]] || { echo "first: $first"; return 1; }
  [ "${again#replayed }" = "${first#charged }" ] || { echo "again: $again"; return 1; }
  [ "$other" = rejected ] && [ $status -eq 2 ] || { echo "other: $other (exit $status)"; return 1; }
  [ "$(charge_count "$scope" k1)" = 1 ] || { echo "charged $(charge_count "$scope" k1) times"; return 1; }
}

test_stale_owner_stops_on_ik004() {
  local scope old new
  scope=$(new_scope stale)
  # The old owner charges, then pauses before recording, past its lease.
  LEASE='300 milliseconds' AFTER_CHARGE_SLEEP=3 PAY_EVENTS=$work/stale-old \
    reliable "$here/pay.sh" "$scope" k1 bob 700 >"$work/stale-old.reply" &
  local waited
  for waited in $(seq 100); do
    [ "$(charge_count "$scope" k1)" = 1 ] && break
    sleep 0.05
  done
  sleep 0.5  # past the lease
  new=$(LEASE='300 milliseconds' PAY_EVENTS=$work/stale-new reliable "$here/pay.sh" "$scope" k1 bob 700)
  wait
  old=$(cat "$work/stale-old.reply")
  [[ $new == "charged succeeded "* ]] && grep -qx reconciled "$work/stale-new" ||
    { echo "new owner: $new"; return 1; }
  [[ $old == "superseded succeeded "* ]] && grep -qx IK004 "$work/stale-old" ||
    { echo "old owner: $old"; return 1; }
  [ "${old#superseded }" = "${new#charged }" ] || { echo "old $old, new $new"; return 1; }
  [ "$(charge_count "$scope" k1)" = 1 ] || { echo "charged $(charge_count "$scope" k1) times"; return 1; }
}

# blocking_claim SCOPE KEY CUSTOMER AMOUNT END [OUTCOME]: another session
# claims the key in an open transaction (recording OUTCOME in it), holds it for
# two seconds, then ends it with END (COMMIT or ROLLBACK). Returns once it holds.
blocking_claim() {
  local application=blocker-$1 record=
  [ -n "${6:-}" ] && record="SELECT idempotency.record_outcome(:'scope', :'key', 'succeeded', :'outcome');"
  PGAPPNAME=$application q -v scope="$1" -v key="$2" -v customer="$3" -v amount="$4" \
    -v outcome="${6:-}" >/dev/null <<SQL &
BEGIN;
SELECT claim_token FROM idempotency.claim_or_lookup(:'scope', :'key',
  fingerprint => encode(sha256(convert_to(format('{"amount":%s,"currency":"EUR","customer":%s}',
                                                 :'amount'::int, to_json(:'customer'::text)), 'UTF8')), 'hex'));
$record
SELECT pg_sleep(2);
$5;
SQL
  local waited
  for waited in $(seq 100); do
    [ "$(q -v application="$application" <<'SQL'
SELECT count(*) FROM pg_stat_activity
 WHERE application_name = :'application' AND query LIKE 'SELECT pg_sleep%' AND state = 'active';
SQL
    )" = 1 ] && return 0
    sleep 0.02
  done
  echo "the blocking claim did not happen"
  return 1
}

test_lock_timeout_is_retried() {
  local scope reply
  scope=$(new_scope locked)
  blocking_claim "$scope" k1 cal 900 ROLLBACK || return 1
  reply=$(PGOPTIONS='-c lock_timeout=100ms' PAY_EVENTS=$work/locked reliable "$here/pay.sh" "$scope" k1 cal 900)
  wait
  grep -qx 55P03 "$work/locked" || { echo "no 55P03: $(sort "$work/locked" | uniq -c)"; return 1; }
  [[ $reply == "charged succeeded "* ]] || { echo "reply: $reply"; return 1; }
  [ "$(charge_count "$scope" k1)" = 1 ] || { echo "charged $(charge_count "$scope" k1) times"; return 1; }
}

test_serialization_failure_is_retried() {
  local scope reply outcome='{"charge_id": -1, "note": "charged by the other session"}'
  scope=$(new_scope serial)
  blocking_claim "$scope" k1 dan 1100 COMMIT "$outcome" || return 1
  reply=$(PGOPTIONS='-c default_transaction_isolation=repeatable\ read' PAY_EVENTS=$work/serial \
    reliable "$here/pay.sh" "$scope" k1 dan 1100)
  wait
  grep -qx 40001 "$work/serial" || { echo "no 40001: $(sort "$work/serial" | uniq -c)"; return 1; }
  [ "$reply" = "replayed succeeded {\"note\": \"charged by the other session\", \"charge_id\": -1}" ] ||
    { echo "reply: $reply"; return 1; }
  [ "$(charge_count "$scope" k1)" = 0 ] || { echo "charged $(charge_count "$scope" k1) times"; return 1; }
}

number=0
failed=0
check() {
  local name=$1 log status
  shift
  number=$((number + 1))
  log=$("$@" 2>&1)
  status=$?
  if [ $status -eq 0 ]; then
    echo "ok $number - $name"
  else
    failed=$((failed + 1))
    echo "not ok $number - $name"
  fi
  [ -n "$log" ] && sed 's/^/# /' <<<"$log"
}

check "fingerprint: sha256 of the canonical request, as in the other examples" test_fingerprint
check "control: without the guard, retries charge twice (the check can fail)" test_unguarded_run_double_charges
check "$KEYS keys x up to 5 concurrent attempts: one charge per key, every reply the first" \
  test_guarded_run_charges_once
check "IK001: a key reused for a different request is rejected, nothing charged" \
  test_key_reused_for_another_request
check "IK004: a stale owner stops, the new owner's outcome stands, one charge" test_stale_owner_stops_on_ik004
check "55P03: a claim blocked past lock_timeout is retried, then charges once" test_lock_timeout_is_retried
check "40001: a REPEATABLE READ claim that lost the race is retried and replays" \
  test_serialization_failure_is_retried
echo "1..$number"
[ $failed -eq 0 ]
