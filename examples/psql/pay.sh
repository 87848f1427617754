#!/usr/bin/env bash
# One payment attempt with psql and the idempotency extension: charge
# CUSTOMER AMOUNT at most once per idempotency KEY, however often this runs.
#
#   pay.sh SCOPE KEY CUSTOMER AMOUNT [CURRENCY]
#
# Prints one line, "KIND STATUS OUTCOME":
#   charged succeeded {...}     this attempt charged (or found its timed-out charge) and recorded it
#   replayed succeeded {...}    an earlier attempt did: its recorded outcome (failed too)
#   superseded succeeded {...}  IK004: another claim took the key over; its outcome
#   rejected                    IK001: the key was used for a different request      (exit 2)
#   in_progress pending         the first attempt is still in flight after PAY_WAIT s (exit 75)
# Exit 0 when answered, 1 on any other error.
#
# The flow (examples/README.md): claim_or_lookup with the request's
# fingerprint, committed before the provider is called; the provider; then
# record_outcome with the claim token. Each step is one psql run with
# ON_ERROR_STOP, VERBOSITY sqlstate and \gset: psql's exit status says whether
# the statement failed (3) and the "ERROR:  XXXXX" line on stderr which SQLSTATE.
#
# Environment: the libpq one (PGHOST, PGPORT, PGUSER, PGDATABASE; PGOPTIONS for
# settings such as lock_timeout); LEASE (an interval: pending claims older than
# that may be taken over; empty: strict at-most-once); PAY_WAIT (seconds to
# wait for a pending first attempt, 10); AFTER_CHARGE_SLEEP (a test hook: pause
# between the charge and record_outcome); PAY_EVENTS (a file: one line per
# event, such as pending, timeout, reconciled, 55P03, IK004, for tests).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)

[ $# -ge 4 ] || { echo "usage: $0 SCOPE KEY CUSTOMER AMOUNT [CURRENCY]" >&2; exit 1; }
scope=$1 key=$2 customer=$3 amount=$4 currency=${5:-EUR}
lease=${LEASE:-}
errors=$(mktemp)
trap 'rm -f "$errors"' EXIT

# run_sql [psql -v options...] <script: runs it; stdout in $out. On failure,
# returns psql's exit status (3: the statement failed, 2: no connection) with
# the SQLSTATE in $sqlstate.
run_sql() {
  local status
  sqlstate=
  out=$(psql -X -q -At -v ON_ERROR_STOP=1 -v scope="$scope" -v key="$key" "$@" 2>"$errors")
  status=$?
  if [ $status -eq 3 ]; then
    sqlstate=$(sed -n 's/^.*ERROR:  \([0-9A-Z]\{5\}\)$/\1/p' "$errors" | head -n 1)
  fi
  return $status
}

event() {
  if [ -n "${PAY_EVENTS:-}" ]; then echo "$1" >>"$PAY_EVENTS"; fi
}

fail() {
  echo "pay.sh: $1" >&2
  cat "$errors" >&2
  exit 1
}

# 40001 (serialization failure), 40P01 (deadlock), 55P03 (lock timeout): retry.
retryable() {
  case "$sqlstate" in 40001 | 40P01 | 55P03) return 0 ;; *) return 1 ;; esac
}

backoff() {  # backoff ATTEMPT: sleep a random 0..min(10 * 2^ATTEMPT, 200) ms
  local limit=$((10 << ($1 < 5 ? $1 : 5)))
  [ $limit -gt 200 ] && limit=200
  sleep "$(printf '0.%03d' $((RANDOM % (limit + 1))))"
}

claim() {
  # The fingerprint is sha256 of the canonical request (sorted keys, no white
  # space: what the other examples compute), built and hashed in the statement.
  run_sql -v customer="$customer" -v amount="$amount" -v currency="$currency" -v lease="$lease" <<'SQL'
\set VERBOSITY sqlstate
SELECT claimed, coalesce(claim_token::text, '-') AS claim_token, status,
       coalesce(outcome::text, 'null') AS outcome
  FROM idempotency.claim_or_lookup(:'scope', :'key',
         fingerprint => encode(sha256(convert_to(
           format('{"amount":%s,"currency":%s,"customer":%s}',
                  :'amount'::int, to_json(:'currency'::text), to_json(:'customer'::text)),
           'UTF8')), 'hex'),
         lease => nullif(:'lease', '')::interval) \gset
\echo :claimed :claim_token :status :outcome
SQL
}

# record STATUS OUTCOME TOKEN: prints the outcome as stored (jsonb's form).
record() {
  run_sql -v status="$1" -v outcome="$2" -v claim_token="$3" <<'SQL'
\set VERBOSITY sqlstate
SELECT idempotency.record_outcome(:'scope', :'key', :'status', :'outcome'::jsonb,
                                  :'claim_token'::bigint) AS recorded,
       (:'outcome'::jsonb)::text AS outcome \gset
\echo :outcome
SQL
}

release() {
  run_sql -v claim_token="$1" <<'SQL'
\set VERBOSITY sqlstate
SELECT idempotency.release_guard(:'scope', :'key', :'claim_token'::bigint) AS released \gset
\echo :released
SQL
}

declined_outcome() {
  run_sql -v customer="$customer" <<'SQL'
SELECT json_build_object('error', 'card_declined', 'customer', :'customer')::text;
SQL
}

# IK004: a later claim owns the key. Stop, and answer with what it recorded.
superseded() {
  event IK004
  run_sql <<'SQL' || fail "lookup failed"
\set VERBOSITY sqlstate
SELECT coalesce(max(status), 'none') AS status, coalesce(max(outcome::text), 'null') AS outcome
  FROM idempotency.lookup(:'scope', :'key') \gset
\echo :status :outcome
SQL
  local status outcome
  read -r status outcome <<<"$out"
  if [ "$status" = pending ] || [ "$status" = none ]; then
    echo "in_progress pending"
    exit 75
  fi
  echo "superseded $status $outcome"
  exit 0
}

# with_retries COMMAND...: runs a step again on 40001/40P01/55P03.
with_retries() {
  local attempt
  for attempt in $(seq 0 50); do
    "$@" && return 0
    retryable || return 1
    event "$sqlstate"
    backoff "$attempt"
  done
  return 1
}

deadline=$((SECONDS + ${PAY_WAIT:-10}))
poll=0
attempt=0
while :; do
  claim
  psql_status=$?
  if [ $psql_status -ne 0 ]; then
    case "$sqlstate" in
      IK001) event IK001; echo "rejected"; exit 2 ;;  # the key was used for a different request
    esac
    retryable || fail "claim failed (psql exit status $psql_status, SQLSTATE ${sqlstate:-none})"
    event "$sqlstate"
    attempt=$((attempt + 1))
    backoff "$attempt"
    continue
  fi
  read -r claimed claim_token status outcome <<<"$out"

  if [ "$claimed" != t ]; then
    if [ "$status" != pending ]; then
      echo "replayed $status $outcome"
      exit 0
    fi
    # The first attempt is still in flight: ask again, less and less often.
    event pending
    if [ $SECONDS -ge $deadline ]; then
      echo "in_progress pending"
      exit 75
    fi
    poll=$((poll < 4 ? poll + 1 : 4))
    sleep "$(printf '0.%03d' $((25 << poll)))"
    continue
  fi

  event claimed
  reference="$scope/$key"
  charge=
  if [ -n "$lease" ]; then
    # This claim may have taken over from an owner presumed dead that did
    # charge: ask the provider before charging again.
    charge=$("$here/provider.sh" find "$reference") || charge=
    [ -n "$charge" ] && event reconciled
  fi
  if [ -z "$charge" ]; then
    charge=$("$here/provider.sh" charge "$reference" "$customer" "$amount")
    provider_status=$?
    if [ $provider_status -eq 12 ]; then
      # Timed out: the charge may have gone through. Ask, never charge blindly again.
      event timeout
      if charge=$("$here/provider.sh" find "$reference"); then
        event reconciled
      else
        provider_status=11
      fi
    fi
  else
    provider_status=0
  fi
  case $provider_status in
    0 | 12) status=succeeded outcome=$charge ;;
    10)
      declined_outcome || fail "could not build the outcome"
      status=failed outcome=$out
      ;;
    11)
      event refused
      # Surely not charged: give the key back, then claim again.
      with_retries release "$claim_token" && continue
      [ "$sqlstate" = IK004 ] && superseded
      fail "release_guard failed (SQLSTATE ${sqlstate:-none})"
      ;;
    *) fail "provider failed with status $provider_status" ;;
  esac
  [ -n "${AFTER_CHARGE_SLEEP:-}" ] && sleep "$AFTER_CHARGE_SLEEP"

  if with_retries record "$status" "$outcome" "$claim_token"; then
    event recorded
    echo "charged $status $out"
    exit 0
  fi
  [ "$sqlstate" = IK004 ] && superseded  # someone else owns the key now: stop
  fail "record_outcome failed (SQLSTATE ${sqlstate:-none})"
done
