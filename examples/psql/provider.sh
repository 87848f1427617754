#!/usr/bin/env bash
# The payment provider stub of the psql example: it charges into
# examples.ledger (every call charges; it does not deduplicate) and is flaky.
#
#   provider.sh charge REFERENCE CUSTOMER AMOUNT   prints the charge as JSON
#       exit 0:  charged
#       exit 10: card declined (customers whose name starts with "declined"); nothing charged
#       exit 11: connection refused; nothing charged
#       exit 12: timed out; it may or may not have charged: ask with `find`
#   provider.sh find REFERENCE                     prints the charge as JSON (exit 0),
#                                                  or nothing (exit 1)
#
# Flakiness, in percent: PROVIDER_REFUSE (10), PROVIDER_TIMEOUT_BEFORE (5,
# request lost before charging), PROVIDER_TIMEOUT_AFTER (30, charged and the
# answer lost). Connects with the libpq environment.
set -uo pipefail

psql_provider() {
  # Not the merchant's connection settings (lock_timeout and the like).
  PGOPTIONS= psql -X -q -At -v ON_ERROR_STOP=1 "$@"
}

charge_json="json_build_object('charge_id', charge_id, 'customer', customer, 'amount', amount)::text"

case "${1:-}" in
  charge)
    reference=$2 customer=$3 amount=$4
    draw=$((RANDOM % 100))
    refuse=${PROVIDER_REFUSE:-10}
    before=$((refuse + ${PROVIDER_TIMEOUT_BEFORE:-5}))
    after=$((before + ${PROVIDER_TIMEOUT_AFTER:-30}))
    [ "$draw" -lt "$refuse" ] && exit 11
    sleep "0.0$((40 + RANDOM % 40))"
    [[ $customer == declined* ]] && exit 10
    [ "$draw" -lt "$before" ] && exit 12
    charge=$(psql_provider -v reference="$reference" -v customer="$customer" -v amount="$amount" <<SQL
WITH charged AS (
  INSERT INTO examples.ledger (reference, customer, amount)
  VALUES (:'reference', :'customer', :'amount') RETURNING charge_id, customer, amount)
SELECT $charge_json FROM charged;
SQL
    ) || exit 11
    [ "$draw" -lt "$after" ] && exit 12
    echo "$charge"
    ;;
  find)
    found=$(psql_provider -v reference="$2" <<SQL
SELECT $charge_json FROM examples.ledger WHERE reference = :'reference' ORDER BY charge_id LIMIT 1;
SQL
    ) || exit 2
    [ -n "$found" ] || exit 1
    echo "$found"
    ;;
  *)
    echo "usage: $0 charge REFERENCE CUSTOMER AMOUNT | find REFERENCE" >&2
    exit 2
    ;;
esac
