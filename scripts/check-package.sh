#!/usr/bin/env bash
# check-package.sh DEB SOURCE_DIR: what a postgresql-N-idempotency package
# must hold, so that a build that found no sources (an empty library) fails:
# the control file, every sql/idempotency--*.sql of SOURCE_DIR, and a library
# that exports PostgreSQL's module magic and, for every C function the SQL
# scripts name (AS 'MODULE_PATHNAME', 'name'), its pg_finfo_name. Prints TAP
# lines; exits non-zero on any failure. Needs dpkg-deb and nm.
set -uo pipefail
deb=$1 source_dir=$2
name=$(basename "$deb")
major=$(echo "$name" | sed -n 's/^postgresql-\([0-9][0-9]*\)-idempotency_.*/\1/p')
contents=$(mktemp -d)
trap 'rm -rf "$contents"' EXIT
failed=0 n=0
check() { # check DESCRIPTION COMMAND...
  local description=$1
  shift
  n=$((n + 1))
  if "$@"; then echo "ok $n - $description"; else echo "not ok $n - $description"; failed=1; fi
}

check "$name names a PostgreSQL major" test -n "$major"
dpkg-deb -x "$deb" "$contents" || exit 1
extension_dir=$contents/usr/share/postgresql/$major/extension
library=$contents/usr/lib/postgresql/$major/lib/idempotency.so

check "$name holds idempotency.control" \
  cmp -s "$source_dir/idempotency.control" "$extension_dir/idempotency.control"
missing_scripts() {
  local script missing=0
  for script in "$source_dir"/sql/idempotency--*.sql; do
    cmp -s "$script" "$extension_dir/$(basename "$script")" ||
      { echo "# missing or different: $(basename "$script")"; missing=1; }
  done
  return "$missing"
}
check "$name holds every SQL script of sql/ ($(find "$source_dir/sql" -name 'idempotency--*.sql' | wc -l))" \
  missing_scripts

exports=$(nm -D --defined-only "$library" 2>/dev/null | awk '{print $3}')
check "$name's idempotency.so exports Pg_magic_func" grep -qx Pg_magic_func <<<"$exports"
c_functions=$(grep -ohE "'MODULE_PATHNAME', *'[a-z_0-9]+'" "$source_dir"/sql/idempotency--*.sql |
  sed -E "s/.*'([a-z_0-9]+)'$/\1/" | sort -u)
unexported() {
  local function missing=0
  for function in $c_functions; do
    grep -qx "pg_finfo_$function" <<<"$exports" || { echo "# not exported: pg_finfo_$function"; missing=1; }
  done
  return "$missing"
}
check "$name's idempotency.so exports all $(wc -w <<<"$c_functions") C functions the SQL scripts name" \
  unexported
check "the SQL scripts name C functions at all (pg_finfo_idempotency_claim_guard among them)" \
  grep -qx idempotency_claim_guard <<<"$c_functions"
exit "$failed"
