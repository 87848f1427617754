#!/bin/bash
# The shared conformance suite against the portable edition: every pg_regress
# file of the native suite (Makefile's REGRESS) that is not listed in
# portable/conformance-exclusions.txt, in the same order, against the native
# expected/*.out, after portable_setup (which checks that no native library is
# there). The portable edition must already be installed in DATABASE; the
# files run as the connecting (super)user, as the native suite does.
# psql's CONTEXT lines of the edition's own PL/pgSQL frames are removed before
# the comparison (portable/test/strip_context.py); everything else must match.
#
#   portable/test/conformance.sh PG_REGRESS DATABASE OUTDIR   (PGHOST, PGPORT, PGUSER from the env)
# Prints one TAP line per file ("ok - regress claim"), and exits non-zero if any failed.
set -u
pg_regress=$1 database=$2 outdir=$3
root=$(cd "$(dirname "$0")/../.." && pwd)
inputs="$outdir/inputs"
rm -rf "$outdir" && mkdir -p "$inputs/sql" "$inputs/expected"
cp "$root"/sql/*.sql "$root"/portable/test/sql/*.sql "$inputs/sql/"
cp "$root"/expected/*.out "$root"/portable/test/expected/*.out "$inputs/expected/"

excluded=$(grep -v '^#' "$root/portable/conformance-exclusions.txt" | awk 'NF {print $1}')
tests=(portable_setup)
for name in $(awk '/^REGRESS *=/ {on = 1} on {print; if ($0 !~ /\\$/) exit}' "$root/Makefile" | tr -d '\\' | sed 's/^REGRESS *=//'); do
  grep -qx "$name" <<<"$excluded" || tests+=("$name")
done

"$pg_regress" --use-existing --dbname="$database" --inputdir="$inputs" --outputdir="$outdir" \
  "${tests[@]}" >"$outdir/pg_regress.log" 2>&1

failed=0
for name in "${tests[@]}"; do
  result="$outdir/results/$name.out"
  if [ -f "$result" ] &&
     python3 "$root/portable/test/strip_context.py" <"$result" >"$outdir/$name.stripped" &&
     diff -u "$inputs/expected/$name.out" "$outdir/$name.stripped" >"$outdir/$name.diff"; then
    echo "ok - regress $name"
  else
    echo "not ok - regress $name (diff: $outdir/$name.diff)"
    failed=1
  fi
done
exit $failed
