#!/usr/bin/env bash
# `make test`: every suite against throwaway clusters, on a fresh Debian 12
# machine included. Prints one line per suite and a closing
# "tests: N passed, N failed" line; exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

# The version matrix (scripts/test-versions.sh) runs this script inside a
# chroot whose packages it installed itself: IDEMPOTENCY_SKIP_DEPS=1 there.
[ "${IDEMPOTENCY_SKIP_DEPS:-0}" = 1 ] || scripts/install-deps.sh || exit 1
source scripts/cluster.sh

work=$(make_cluster_dir test)
logs=$work/logs
mkdir -p "$logs"
chmod 777 "$logs"
cleanup() {
  stop_cluster "$work/integration"
  stop_cluster "$work/docs"
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
    # The failed checks first (TAP's "not ok" with its diagnostics), then the end of the log.
    grep -E -A8 '^not ok [0-9]+' "$log" | head -n 80
    tail -n 150 "$log"
  else
    echo "ok    $suite: $passed passed"
  fi
}

# pg_regress_counts LOG: "PASSED FAILED" from pg_regress or
# pg_isolation_regress output: "test name ... ok" up to PostgreSQL 15, TAP
# lines ("ok 1 - name", "not ok 2 - name") from 16 on.
pg_regress_counts() {
  local passed failed
  passed=$(grep -cE '^(test| ) *[a-z_]+ +\.\.\. ok|^ok [0-9]+ +- ' "$1")
  failed=$(grep -cE '\.\.\. FAILED|^not ok [0-9]+ +- ' "$1")
  echo "$passed $failed"
}

# ctest_counts LOG: "PASSED FAILED" from ctest's "N tests failed out of M".
ctest_counts() {
  local line
  line=$(grep -Eo '[0-9]+ tests failed out of [0-9]+' "$1" | tail -n 1)
  if [ -n "$line" ]; then
    echo "$line" | awk '{print $6 - $1, $1}'
  else
    echo "0 0"
  fi
}

# 0. The extension's build with -Werror, installed into PostgreSQL $PG_MAJOR;
# every other suite needs it.
run_build() {
  local log=$logs/build.log
  scripts/build.sh >"$log" 2>&1
  local status=$?
  local passed=0 failed=0
  if [ "$status" -eq 0 ]; then passed=1; else failed=1; fi
  report "build (-Werror, PostgreSQL $("$PG_CONFIG" --version | awk '{print $2}'))" \
    "$passed" "$failed" "$status" "$log"
  return "$status"
}

# 0b. What must not compile: test/compile_fail/*.cpp each fail with the
# static_assert named in the file, and compile once its -DBODY_IS_NOEXCEPT
# fix is applied (so the failure is the assert, not a broken test file).
run_compile_fail_tests() {
  local log=$logs/compile-fail.log passed=0 failed=0 source
  local flags=(-std=c++17 -fsyntax-only -Wall -Wextra -Werror -Isrc
               -isystem "$("$PG_CONFIG" --includedir-server)")
  for source in test/compile_fail/*.cpp; do
    local refused
    refused=$(g++ "${flags[@]}" "$source" 2>&1)
    echo "$refused" >>"$log"
    if grep -q 'call_pg bodies must be noexcept' <<<"$refused" &&
      g++ "${flags[@]}" -DBODY_IS_NOEXCEPT "$source" >>"$log" 2>&1; then
      passed=$((passed + 1))
    else
      echo "$source: not refused as expected" >>"$log"
      failed=$((failed + 1))
    fi
  done
  report "compile-fail (g++ -fsyntax-only)" "$passed" "$failed" 0 "$log"
}

# 1. GoogleTest: the pure C++ core, no server. (This build also compiles the
# integration tests, but only registers them with CTest in build/integration;
# -LE integration keeps them out here regardless.)
run_unit_tests() {
  local log=$logs/unit.log
  {
    cmake -S . -B build/unit -DCMAKE_BUILD_TYPE=RelWithDebInfo &&
      cmake --build build/unit -j"$(nproc)" &&
      ctest --test-dir build/unit -LE integration --output-on-failure
  } >"$log" 2>&1
  local status=$?
  local passed failed
  read -r passed failed < <(ctest_counts "$log")
  report "unit (ctest)" "$passed" "$failed" "$status" "$log"
}

# 1b. The same unit tests under AddressSanitizer and UndefinedBehaviorSanitizer.
run_sanitized_unit_tests() {
  local log=$logs/unit-sanitize.log
  {
    cmake -S . -B build/unit-sanitize -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DIDEMPOTENCY_SANITIZE=ON &&
      cmake --build build/unit-sanitize --target core_unit_tests -j"$(nproc)" &&
      ctest --test-dir build/unit-sanitize -LE integration --output-on-failure
  } >"$log" 2>&1
  local status=$?
  local passed failed
  read -r passed failed < <(ctest_counts "$log")
  report "unit under ASan+UBSan (ctest)" "$passed" "$failed" "$status" "$log"
}

# 1c. A bounded libFuzzer run over the core (clang, ASan+UBSan), from the
# seed corpus in test/fuzz/corpus; FUZZ_SECONDS sets its length.
run_fuzzing() {
  local log=$logs/fuzz.log corpus=$work/fuzz-corpus
  mkdir -p "$corpus" && cp test/fuzz/corpus/* "$corpus/"
  {
    CXX=clang++-14 cmake -S . -B build/fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DIDEMPOTENCY_FUZZ=ON &&
      cmake --build build/fuzz --target fuzz_core -j"$(nproc)" &&
      build/fuzz/fuzz_core -max_total_time="${FUZZ_SECONDS:-20}" -seed=1 -print_final_stats=1 \
        "$corpus"
  } >"$log" 2>&1
  local status=$?
  local passed=0 failed=0
  if grep -qE '^Done [0-9]+ runs' "$log" && [ "$status" -eq 0 ]; then passed=1; else failed=1; fi
  report "fuzz (libFuzzer, ${FUZZ_SECONDS:-20} s)" "$passed" "$failed" "$status" "$log"
  grep -oE '^Done [0-9]+ runs in [0-9]+ second\(s\)' "$log" | sed 's/^/      /'
}

# The tree `make installcheck` runs in for the pg_regress, isolation and TAP
# suites, as the cluster user (not root): a copy without scripts/, .git and
# build output, so these suites show that it needs none of our scripts, only
# the extension installed (run_build) and the tree as a clone has it. Made once.
installcheck_tree=$work/tree
make_installcheck_tree() {
  [ -d "$installcheck_tree" ] && return 0
  mkdir -p "$installcheck_tree" &&
    tar -C "$repo" --exclude-vcs --exclude=./scripts --exclude=./build --exclude=./dist \
      --exclude=./results --exclude=./output_iso --exclude='./tmp_check*' --exclude=./log \
      --exclude='./regression.*' --exclude=node_modules \
      --exclude='*.o' --exclude='*.bc' --exclude='*.so' --exclude='*.d' -cf - . |
    tar -xf - -C "$installcheck_tree" &&
    { [ "$(id -u)" -ne 0 ] || chown -R postgres: "$installcheck_tree"; }
}

# installcheck_in_tree MAKE_ARGS...: `make -s installcheck` (or another target
# among MAKE_ARGS) in that tree as the cluster user, reaching no server of ours.
# Every tool the TAP tests use is installed here, so the exporter's absence
# fails 009_prometheus.pl instead of skipping it.
installcheck_in_tree() {
  make_installcheck_tree &&
    as_cluster_user env PGHOST= PGPORT= PGUSER= PGDATABASE= IDEMPOTENCY_REQUIRE_EXPORTER=1 \
      make -s -C "$installcheck_tree" PG_CONFIG="$PG_CONFIG" "$@"
}

# 2. pg_regress: `make installcheck` with only REGRESS, in the temporary
# instance pg_regress starts with test/installcheck.conf.
run_regression_tests() {
  local log=$logs/regress.log
  installcheck_in_tree installcheck ISOLATION= TAP_TESTS= >"$log" 2>&1
  local status=$?
  cat "$installcheck_tree/regression.diffs" >>"$log" 2>/dev/null
  [ "$status" -ne 0 ] && tail -n 40 "$installcheck_tree/tmp_check/log/postmaster.log" >>"$log" 2>/dev/null
  local passed failed
  read -r passed failed < <(pg_regress_counts "$log")
  report "regress (pg_regress)" "$passed" "$failed" "$status" "$log"
}

# 3. Isolation: the specs in test/isolation/specs (concurrent sessions),
# `make installcheck` with only ISOLATION, in pg_isolation_regress's
# temporary instance.
run_isolation_tests() {
  local log=$logs/isolation.log
  local specs
  specs=$(find test/isolation/specs -name '*.spec' | wc -l)
  installcheck_in_tree installcheck REGRESS= TAP_TESTS= >"$log" 2>&1
  local status=$?
  cat "$installcheck_tree/output_iso/regression.diffs" >>"$log" 2>/dev/null
  [ "$status" -ne 0 ] && tail -n 40 "$installcheck_tree/tmp_check_iso/log/postmaster.log" >>"$log" 2>/dev/null
  local passed failed
  read -r passed failed < <(pg_regress_counts "$log")
  # Every spec must have run.
  if [ $((passed + failed)) -ne "$specs" ]; then
    echo "expected $specs specs, saw $((passed + failed)) results" >>"$log"
    status=1
  fi
  report "isolation (pg_isolation_regress)" "$passed" "$failed" "$status" "$log"
}

# 4. Integration: the multi-threaded GoogleTest/libpq stress tests in
# test/integration (CTest label "integration") against their own throwaway
# cluster; 17 connections at most, well under its max_connections of 100.
run_integration_tests() {
  local log=$logs/integration.log dir=$work/integration
  mkdir -p "$dir" && [ "$(id -u)" -eq 0 ] && chown postgres: "$dir"
  (
    cmake -S . -B build/integration -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DIDEMPOTENCY_INTEGRATION_TESTS=ON &&
      cmake --build build/integration --target integration_tests -j"$(nproc)" &&
      start_cluster "$dir" "$(free_port)" "max_connections = 100" &&
      psql -X -q -d postgres -c 'CREATE DATABASE idempotency_integration' &&
      psql -X -q -d idempotency_integration -c 'CREATE EXTENSION idempotency' &&
      PGDATABASE=idempotency_integration \
        ctest --test-dir build/integration -L integration --output-on-failure -V
  ) >"$log" 2>&1
  local status=$?
  local passed failed
  read -r passed failed < <(ctest_counts "$log")
  report "integration (ctest -L integration)" "$passed" "$failed" "$status" "$log"
  # The figures of the stress tests.
  grep -oE '\[stress\] [^:]+: [0-9]+ connections.*' "$log" | sed 's/^/      /'
}

# 5. TAP: PostgreSQL::Test::Cluster tests in test/t, through PGXS's
# prove_installcheck in the same tree (they start their own clusters and keep
# them and their logs in its tmp_check). A skipped test file (016 before
# PostgreSQL 19) is named with its reason under the suite line.
run_tap_tests() {
  local log=$logs/tap.log
  installcheck_in_tree PROVE_FLAGS=-v prove_installcheck >"$log" 2>&1
  local status=$?
  local passed failed
  passed=$(grep -cE '^ok [0-9]+' "$log")
  failed=$(grep -cE '^not ok [0-9]+' "$log")
  [ "$status" -ne 0 ] &&
    find "$installcheck_tree/tmp_check" -name '*.log' -exec tail -n 40 {} + >>"$log" 2>/dev/null
  report "tap (prove)" "$passed" "$failed" "$status" "$log"
  sed -nE 's|^(test/t/[^ ]+) \.+ skipped: (.*)$|      skipped: \1 (\2)|p' "$log"
}

# run_tap_line_suite LOG LABEL COMMAND...: runs a suite that prints TAP lines
# (`ok N`, `not ok N`) into $logs/LOG.log and reports their counts.
run_tap_line_suite() {
  local log=$logs/$1.log label=$2
  shift 2
  "$@" >"$log" 2>&1
  local status=$?
  local passed failed
  passed=$(grep -cE '^ok [0-9]+' "$log")
  failed=$(grep -cE '^not ok [0-9]+' "$log")
  report "$label" "$passed" "$failed" "$status" "$log"
}

# 6. The client examples (Python, Node.js, C++, psql), the HTTP service with
# its headless-Chromium test, and the pgbouncer test: examples/run-tests.sh
# prints TAP lines and starts its own cluster.
run_example_tests() {
  run_tap_line_suite examples "examples (examples/run-tests.sh)" examples/run-tests.sh
}

# 7. Citus: a coordinator and two workers (scripts/test-citus.sh); Citus is
# built once from its release source into /var/cache/idempotency-test.
run_citus_tests() {
  run_tap_line_suite citus "citus (coordinator + 2 workers, scripts/test-citus.sh)" \
    scripts/test-citus.sh
}

# 0c. The include layering (scripts/check-layering.sh): clean on src/, and
# refusing every file of a tree that breaks it on purpose.
run_layering_checks() {
  local log=$logs/layering.log passed=0 failed=0 file
  if scripts/check-layering.sh src >>"$log" 2>&1; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
  fi
  local refusals
  refusals=$(scripts/check-layering.sh test/layering_violation/src 2>&1)
  echo "$refusals" >>"$log"
  for file in $(cd test/layering_violation && find src -name '*.[ch]pp'); do
    if grep -q "^test/layering_violation/$file:" <<<"$refusals"; then
      passed=$((passed + 1))
    else
      echo "$file: not refused" >>"$log"
      failed=$((failed + 1))
    fi
  done
  report "layering (scripts/check-layering.sh)" "$passed" "$failed" 0 "$log"
}

# 0d. The release metadata (test/packaging/check_metadata.py): META.json's
# required fields, and its version, CHANGELOG.md's and debian/changelog's
# newest release agree with idempotency.control. A copy whose META.json names
# another version must be refused, so the check is seen to fail too.
run_metadata_checks() {
  local log=$logs/metadata.log passed failed status copy=$work/metadata-copy
  test/packaging/check_metadata.py . >"$log" 2>&1
  status=$?
  read -r passed failed < <(awk '/^ok [0-9]+/{p++} /^not ok [0-9]+/{f++} END{print p+0, f+0}' "$log")
  mkdir -p "$copy" && cp -r META.json CHANGELOG.md LICENSE README.md idempotency.control sql debian "$copy/"
  sed -i 's/^   "version": "[0-9.]*"/   "version": "0.0.1"/' "$copy/META.json"
  if test/packaging/check_metadata.py "$copy" >"$log.copy" 2>&1; then
    echo "a META.json naming version 0.0.1 was not refused" >>"$log"
    failed=$((failed + 1))
  else
    passed=$((passed + 1))
  fi
  report "metadata (test/packaging/check_metadata.py)" "$passed" "$failed" "$status" "$log"
}

# 0e. The documentation against the code (scripts/check-docs.py): functions
# and settings as a fresh server with the extension reports them, SQLSTATEs,
# links and make targets; test/docs/test-check-docs.sh also shows each check
# failing on a broken copy of the docs.
run_docs_checks() {
  local log=$logs/docs.log dir=$work/docs passed failed status
  mkdir -p "$dir" && [ "$(id -u)" -eq 0 ] && chown postgres: "$dir"
  (
    start_cluster "$dir" "$(free_port)" &&
      "$PG_BIN/psql" -XAtq -v ON_ERROR_STOP=1 -d postgres -c 'CREATE EXTENSION idempotency' \
        -f test/docs/facts.sql >"$work/docs-facts.json" &&
      test/docs/test-check-docs.sh "$work/docs-facts.json"
  ) >"$log" 2>&1
  status=$?
  stop_cluster "$dir"
  read -r passed failed < <(awk '/^ok [0-9]+/{p++} /^not ok [0-9]+/{f++} END{print p+0, f+0}' "$log")
  report "docs (scripts/check-docs.py)" "$passed" "$failed" "$status" "$log"
}

# SUITES runs a subset, in this order; the version matrix runs
# "compile-fail regress isolation integration tap". The build always runs first.
suites=" ${SUITES:-compile-fail metadata docs unit sanitize fuzz regress isolation integration tap examples citus} "
selected() { [[ "$suites" == *" $1 "* ]]; }

if run_build; then
  selected compile-fail && { run_compile_fail_tests; run_layering_checks; }
  selected metadata && run_metadata_checks
  selected docs && run_docs_checks
  selected unit && run_unit_tests
  selected sanitize && run_sanitized_unit_tests
  selected fuzz && run_fuzzing
  selected regress && run_regression_tests
  selected isolation && run_isolation_tests
  selected integration && run_integration_tests
  selected tap && run_tap_tests
  selected examples && run_example_tests
  selected citus && run_citus_tests
fi

echo
if [ "$suite_failed" -ne 0 ]; then
  echo "$suite_failed suite(s) failed"
fi
echo "tests: $total_passed passed, $total_failed failed"
[ "$suite_failed" -eq 0 ]
