#!/usr/bin/env bash
# `make test`: every suite against throwaway clusters, on a fresh Debian 12
# machine included. Prints one line per suite and a closing
# "tests: N passed, N failed" line; exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

scripts/install-deps.sh || exit 1
scripts/build.sh || exit 1
source scripts/cluster.sh

work=$(make_cluster_dir test)
logs=$work/logs
mkdir -p "$logs"
chmod 777 "$logs"
cleanup() {
  stop_cluster "$work/regress"
  rm -rf "$work"
}
trap cleanup EXIT

total_passed=0
total_failed=0
suite_failed=0

# report SUITE PASSED FAILED STATUS LOG
report() {
  local suite=$1 passed=$2 failed=$3 status=$4 log=$5
  total_passed=$((total_passed + passed))
  total_failed=$((total_failed + failed))
  if [ "$status" -ne 0 ] || [ "$failed" -ne 0 ] || [ "$passed" -eq 0 ]; then
    suite_failed=$((suite_failed + 1))
    echo "FAIL  $suite: $passed passed, $failed failed (log follows)"
    tail -n 150 "$log"
  else
    echo "ok    $suite: $passed passed"
  fi
}

# 1. GoogleTest: the pure C++ core, no server.
run_unit_tests() {
  local log=$logs/unit.log
  {
    cmake -S . -B build/unit -DCMAKE_BUILD_TYPE=RelWithDebInfo &&
      cmake --build build/unit -j"$(nproc)" &&
      ctest --test-dir build/unit --output-on-failure
  } >"$log" 2>&1
  local status=$?
  local line passed=0 failed=0
  line=$(grep -Eo '[0-9]+ tests failed out of [0-9]+' "$log" | tail -n 1)
  if [ -n "$line" ]; then
    failed=$(echo "$line" | awk '{print $1}')
    passed=$(($(echo "$line" | awk '{print $6}') - failed))
  fi
  report "unit (ctest)" "$passed" "$failed" "$status" "$log"
}

# 2. pg_regress: `make installcheck` against a throwaway cluster.
run_regression_tests() {
  local log=$logs/regress.log
  mkdir -p "$work/regress" && [ "$(id -u)" -eq 0 ] && chown postgres: "$work/regress"
  (
    start_cluster "$work/regress" "$(free_port)" &&
      make -s installcheck PG_CONFIG="$PG_CONFIG"
  ) >"$log" 2>&1
  local status=$?
  [ -f regression.diffs ] && cat regression.diffs >>"$log"
  local passed failed
  passed=$(grep -cE '^(test| ) *[a-z_]+ +\.\.\. ok' "$log")
  failed=$(grep -cE '\.\.\. FAILED' "$log")
  report "regress (pg_regress)" "$passed" "$failed" "$status" "$log"
}

# 3. TAP: PostgreSQL::Test::Cluster tests in test/t, run as the cluster user.
run_tap_tests() {
  local log=$logs/tap.log tapdir=$work/tap
  mkdir -p "$tapdir" && [ "$(id -u)" -eq 0 ] && chown postgres: "$tapdir"
  (
    cd "$repo/test" &&
      as_cluster_user env TESTDIR="$tapdir" PGPORT= PGHOST= PGUSER= \
        PG_REGRESS="$($PG_CONFIG --pgxs | xargs dirname)/../test/regress/pg_regress" \
        prove -v -I "$($PG_CONFIG --pgxs | xargs dirname)/../test/perl" t/*.pl
  ) >"$log" 2>&1
  local status=$?
  local passed failed
  passed=$(grep -cE '^ok [0-9]+' "$log")
  failed=$(grep -cE '^not ok [0-9]+' "$log")
  [ "$status" -ne 0 ] && find "$tapdir" -name '*.log' -exec tail -n 40 {} + >>"$log" 2>/dev/null
  report "tap (prove)" "$passed" "$failed" "$status" "$log"
}

run_unit_tests
run_regression_tests
run_tap_tests

echo
if [ "$suite_failed" -ne 0 ]; then
  echo "$suite_failed suite(s) failed"
fi
echo "tests: $total_passed passed, $total_failed failed"
[ "$suite_failed" -eq 0 ]
