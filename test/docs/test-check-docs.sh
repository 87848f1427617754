#!/usr/bin/env bash
# The docs suite of `make test`: scripts/check-docs.py passes on the tree, and
# fails, with the message that names the fault, on copies of the tree that
# each break the documentation in one way.
#
#   test/docs/test-check-docs.sh FACTS.json
#
# FACTS.json: test/docs/facts.sql's answer on a fresh server with the
# extension created. Prints TAP lines; exits non-zero if any fails.
set -uo pipefail
cd "$(dirname "$0")/../.."
facts=$(realpath "$1")
work=$(mktemp -d "${TMPDIR:-/tmp}/idempotency-docs-XXXXXX")
trap 'rm -rf "$work"' EXIT
n=0
failed=0

ok() {
  n=$((n + 1))
  echo "ok $n - $1"
}
not_ok() {
  n=$((n + 1))
  failed=$((failed + 1))
  echo "not ok $n - $1"
}

# The tree as it is must pass every check.
if scripts/check-docs.py --facts "$facts" . >"$work/tree.out" 2>&1; then
  ok "the documentation of this tree passes"
else
  not_ok "the documentation of this tree passes"
  sed 's/^/# /' "$work/tree.out"
fi

# broken NAME EXPECTED EDIT: in a fresh copy of the tree, EDIT (a shell command
# run in the copy) breaks the docs; the checker must fail and print EXPECTED.
broken() {
  local name=$1 expected=$2 edit=$3 copy=$work/copy
  rm -rf "$copy" && mkdir -p "$copy"
  # The tree without build output (no git: the version matrix's copy has none).
  tar --exclude=./.git --exclude=./build --exclude=./dist --exclude=./results --exclude=./log \
    --exclude=./tmp_check --exclude=./output_iso --exclude='*.o' --exclude='*.bc' --exclude='*.so' \
    -cf - . | tar -xf - -C "$copy"
  (cd "$copy" && eval "$edit") || { not_ok "$name (the edit failed)"; return; }
  if scripts/check-docs.py --facts "$facts" "$copy" >"$work/out" 2>&1; then
    not_ok "$name: the checker passed"
  elif grep -qF -- "$expected" "$work/out"; then
    ok "$name"
  else
    not_ok "$name: the checker failed without \"$expected\""
    sed 's/^/# /' "$work/out"
  fi
}

broken "a function's signature removed" "function not documented: idempotency.claim_guard(" \
  "sed -i '/^idempotency\.claim_guard(/d' docs/reference.md"
broken "a signature of a function that does not exist" \
  "does not create: idempotency.no_such_function() returns void" \
  "printf '\n\`\`\`sql\nidempotency.no_such_function() returns void\n\`\`\`\n' >>docs/reference.md"
broken "a setting's row removed" "setting not in the settings table: idempotency.purge_nice" \
  "sed -i '/^| \`idempotency\.purge_nice\`/d' docs/reference.md"
broken "a setting's default changed" "idempotency.default_ttl: default is \`1d\`" \
  "sed -i 's/^| \`idempotency\.default_ttl\` | \`1d\` |/| \`idempotency.default_ttl\` | \`2d\` |/' docs/reference.md"
broken "a setting's context changed" "idempotency.databases: context is \`postmaster\`" \
  "sed -i 's/^\(| \`idempotency\.databases\` | [^|]* | \)\`postmaster\`/\1\`sighup\`/' docs/reference.md"
broken "an error's row removed" "SQLSTATE IK005 (raised in src/core/sql_state.hpp) has no row" \
  "sed -i '/^| \`IK005\`/d' docs/reference.md"
broken "a new SQLSTATE raised by the portable edition" \
  "SQLSTATE IK009 (raised in portable/sql/claims.sql) has no row" \
  "echo \"DO \\\$\\\$BEGIN RAISE EXCEPTION 'x' USING ERRCODE = 'IK009'; END\\\$\\\$;\" >>portable/sql/claims.sql"
broken "an error listed twice" "SQLSTATE IK001 has 2 rows" \
  "sed -i '/^| \`IK001\`/p' docs/reference.md"
broken "a link to a missing anchor" "README.md: link to a missing anchor: docs/reference.md#no-such-heading" \
  "echo '[x](docs/reference.md#no-such-heading)' >>README.md"
broken "a link to a missing file" "docs/operations.md: link to a missing file: ../no-such-file.md" \
  "echo '[x](../no-such-file.md)' >>docs/operations.md"
broken "a make target that does not exist" "README.md: \`make no-such-target\` is not a Makefile target" \
  "echo 'Run \`sudo make no-such-target\`.' >>README.md"

echo "1..$n"
[ "$failed" -eq 0 ]
