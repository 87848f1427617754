#!/bin/bash
# The shared conformance suite against the portable edition: every pg_regress
# file of the native suite (Makefile's REGRESS, in its order) and every
# isolation spec (test/isolation/specs) not listed in
# portable/conformance-exclusions.txt, against the native expected output.
# The regress files run after portable_setup, which checks the install (no
# native library, no C function, a non-superuser owner). The portable edition
# must already be installed in REGRESS_DB and ISOLATION_DB (psql -f or
# pg_tle; two databases, as the native suites use); the files run as the
# connecting superuser, as the native suite does.
# psql's CONTEXT lines of the edition's own PL/pgSQL frames are removed before
# the comparison (portable/test/strip_context.py); everything else must match.
#
#   portable/test/conformance.sh PGXS_TEST_DIR REGRESS_DB ISOLATION_DB OUTDIR   (PGHOST, PGPORT from the env)
# PGXS_TEST_DIR: .../lib/pgxs/src/test (holding regress/pg_regress and
# isolation/pg_isolation_regress). Prints one TAP-style line per file
# ("ok - regress claim"); exits non-zero if any failed.
set -u
test_dir=$1 regress_db=$2 isolation_db=$3 outdir=$4
root=$(cd "$(dirname "$0")/../.." && pwd)
rm -rf "$outdir" && mkdir -p "$outdir/inputs/sql" "$outdir/inputs/expected"

# excluded SUITE: the files of SUITE listed in the exclusions.
excluded() { awk -v suite="$1" '!/^#/ && $1 == suite {print $2}' "$root/portable/conformance-exclusions.txt"; }

cp "$root"/sql/*.sql "$root"/portable/test/sql/*.sql "$outdir/inputs/sql/"
cp "$root"/expected/*.out "$root"/portable/test/expected/*.out "$outdir/inputs/expected/"
regress=(portable_setup portable_fingerprint)
for name in $(awk '/^REGRESS *=/ {on = 1} on {print; if ($0 !~ /\\$/) exit}' "$root/Makefile" |
              tr -d '\\' | sed 's/^REGRESS *=//'); do
  excluded regress | grep -qx "$name" || regress+=("$name")
done
"$test_dir/regress/pg_regress" --use-existing --dbname="$regress_db" --inputdir="$outdir/inputs" \
  --outputdir="$outdir/regress" "${regress[@]}" >"$outdir/regress.log" 2>&1

failed=0
for name in "${regress[@]}"; do
  result="$outdir/regress/results/$name.out"
  if [ -f "$result" ] &&
     python3 "$root/portable/test/strip_context.py" <"$result" >"$outdir/$name.stripped" &&
     diff -u "$outdir/inputs/expected/$name.out" "$outdir/$name.stripped" >"$outdir/$name.diff"; then
    echo "ok - regress $name"
  else
    echo "not ok - regress $name (diff: $outdir/$name.diff)"
    failed=1
  fi
done

# Isolation steps print only an error's message, never its context: the
# specs' own verdicts stand.
specs=()
for spec in "$root"/test/isolation/specs/*.spec; do
  name=$(basename "$spec" .spec)
  excluded isolation | grep -qx "$name" || specs+=("$name")
done
"$test_dir/isolation/pg_isolation_regress" --use-existing --dbname="$isolation_db" \
  --inputdir="$root/test/isolation" --outputdir="$outdir/isolation" "${specs[@]}" \
  >"$outdir/isolation.log" 2>&1
for name in "${specs[@]}"; do
  if grep -Eq "^(ok|test) +[0-9]* *-? *$name +\.\.\. ok|^ok +[0-9]+ +- +$name " "$outdir/isolation.log"; then
    echo "ok - isolation $name"
  else
    echo "not ok - isolation $name (diffs: $outdir/isolation/regression.diffs)"
    failed=1
  fi
done
exit $failed
