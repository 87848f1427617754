#!/usr/bin/env bash
# Runs the tests of every client example against ONE throwaway cluster:
# python (psycopg 3), node (pg), cpp (libpq), psql, the HTTP service (its API
# with node's test runner, its page in chromium with playwright-core), and the
# flow behind pgbouncer in transaction pooling mode.
#
# Installs what the examples need first (as root, with apt-get and npm ci),
# builds the C++ example, and builds and installs the extension only if it is
# not installed yet (scripts/test.sh builds it before calling this).
#
# Prints TAP: one `ok N - example: test` / `not ok N - example: test` line per
# test (with `# ` diagnostics after a failure), the plan, and a closing line
# `examples: P passed, F failed`. Exits non-zero on any failure. Nothing that
# could not run is counted as passed.
set -uo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
source scripts/cluster.sh

TEST_TIMEOUT=${EXAMPLES_TEST_TIMEOUT:-240}  # seconds, per test program

work=$(mktemp -d "${TMPDIR:-/tmp}/idempotency-examples-XXXXXX")
cluster=
cleanup() {
  [ -n "$cluster" ] && stop_cluster "$cluster" && rm -rf "$cluster"
  rm -rf "$work"
}
trap cleanup EXIT

number=0
passed=0
failed=0

ok() {
  number=$((number + 1))
  passed=$((passed + 1))
  echo "ok $number - $1"
}

not_ok() {  # not_ok NAME [DIAGNOSTICS...]
  number=$((number + 1))
  failed=$((failed + 1))
  echo "not ok $number - $1"
  shift
  local line
  for line in "$@"; do
    while IFS= read -r part; do echo "# $part"; done <<<"$line"
  done
}

finish() {
  echo "1..$number"
  echo "examples: $passed passed, $failed failed"
  [ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
  exit
}

# --- 1. What the examples need ----------------------------------------------

# need COMMAND-OR-TEST PACKAGE: the Debian package to install when missing.
# (Checked by command, not by package name: a nodejs from another source
# provides npm and conflicts with Debian's npm package.)
missing=()
need() {
  if ! eval "$1" >/dev/null 2>&1; then missing+=("$2"); fi
}
need 'command -v node' nodejs
need 'command -v npm' npm
need 'test -x /usr/bin/chromium' chromium
need 'command -v pgbouncer || test -x /usr/sbin/pgbouncer' pgbouncer
need '/usr/bin/python3 -c "import psycopg"' python3-psycopg
need 'test -f /usr/include/postgresql/libpq-fe.h' libpq-dev
need 'command -v g++ && command -v make' build-essential
need "test -x $PG_BIN/psql" postgresql-client-15
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    not_ok "setup: packages" "missing: ${missing[*]}" "install them with: sudo apt-get install ${missing[*]}"
    finish
  fi
  echo "# installing: ${missing[*]}"
  if ! { DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"; } \
    >"$work/apt.log" 2>&1; then
    not_ok "setup: apt-get install ${missing[*]}" "$(tail -n 30 "$work/apt.log")"
    finish
  fi
fi
echo "# node $(node --version), $(pgbouncer --version 2>/dev/null | head -n 1), $(/usr/bin/chromium --version 2>/dev/null)"

if [ ! -f "$("$PG_CONFIG" --sharedir)/extension/idempotency.control" ]; then
  echo "# the extension is not installed: building it (scripts/build.sh)"
  if ! { scripts/install-deps.sh && scripts/build.sh; } >"$work/build.log" 2>&1; then
    not_ok "setup: build and install the extension" "$(tail -n 30 "$work/build.log")"
    finish
  fi
fi

# Node packages, exactly as locked; playwright-core drives Debian's chromium
# and must not download a browser of its own.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
setup_failed=()
for package in node http; do
  if ! (cd "examples/$package" && npm ci --no-audit --no-fund) >"$work/npm-$package.log" 2>&1; then
    not_ok "setup: npm ci in examples/$package" "$(tail -n 30 "$work/npm-$package.log")"
    setup_failed+=("$package")
  fi
done
if ! make -C examples/cpp PG_CONFIG="$PG_CONFIG" >"$work/make.log" 2>&1; then
  not_ok "setup: make -C examples/cpp" "$(tail -n 30 "$work/make.log")"
  setup_failed+=(cpp)
fi

# --- 2. One throwaway cluster -------------------------------------------------

cluster=$(make_cluster_dir examples)
# The psql example runs a psql per step of up to 100 concurrent attempts.
if ! start_cluster "$cluster" "$(free_port)" "max_connections = 300" >"$work/cluster.log" 2>&1; then
  not_ok "setup: start the cluster" "$(tail -n 30 "$work/cluster.log")"
  finish
fi
# start_cluster exported PGHOST/PGPORT/PGUSER (the superuser) to this shell.
export PGHOST PGPORT
if ! {
  psql -X -q -v ON_ERROR_STOP=1 -d postgres \
    -c 'CREATE ROLE examples_app LOGIN' -c 'CREATE DATABASE examples' &&
    psql -X -q -v ON_ERROR_STOP=1 -d examples -c 'CREATE EXTENSION idempotency' &&
    psql -X -q -v ON_ERROR_STOP=1 -d examples -v app_role=examples_app -f examples/setup.sql
} >"$work/setup.log" 2>&1; then
  not_ok "setup: database, extension and examples_app role" "$(cat "$work/setup.log")"
  finish
fi
echo "# cluster on port $PGPORT; the examples connect as examples_app (idempotency.grant_client) to database examples"

# --- 3. The tests -----------------------------------------------------------------

# run_example NAME DIR COMMAND...: runs a test program that prints TAP and
# re-numbers its top-level results as "NAME: test". A program that fails
# without saying which test, prints no result, or runs out of time, fails.
run_example() {
  local name=$1 dir=$2
  shift 2
  local log=$work/$name.log status
  (cd "$dir" && PGUSER=examples_app PGDATABASE=examples timeout "$TEST_TIMEOUT" "$@") >"$log" 2>&1
  status=$?
  local results=0 failures=0 line test directive diagnostics=() in_failure=0 planned=
  flush_failure() {
    if [ $in_failure -eq 1 ]; then
      not_ok "$name: $test" "${diagnostics[@]+"${diagnostics[@]}"}"
      in_failure=0
      diagnostics=()
    fi
  }
  while IFS= read -r line; do
    if [[ $line =~ ^(not\ )?ok\ [0-9]+\ -\ (.*)$ ]]; then
      flush_failure
      results=$((results + 1))
      test=${BASH_REMATCH[2]}
      directive=
      # A skipped or to-do test did not pass.
      if [[ $test =~ ^(.*[^\\])\ \#\ ([Ss][Kk][Ii][Pp]|[Tt][Oo][Dd][Oo])(.*)$ ]]; then
        test=${BASH_REMATCH[1]}
        directive="${BASH_REMATCH[2]}${BASH_REMATCH[3]}"
      fi
      if [[ $line == not* ]] || [ -n "$directive" ]; then
        failures=$((failures + 1))
        in_failure=1
        [ -n "$directive" ] && diagnostics+=("$directive: counted as a failure")
      else
        ok "$name: $test"
      fi
    elif [[ $line =~ ^1\.\.([0-9]+)$ ]]; then
      planned=${BASH_REMATCH[1]}
    elif [ $in_failure -eq 1 ] && [ -n "$line" ]; then
      diagnostics+=("$line")
    fi
  done <"$log"
  flush_failure
  if [ $status -eq 124 ]; then
    not_ok "$name: timed out after ${TEST_TIMEOUT}s" "$(tail -n 40 "$log")"
  elif [ $results -eq 0 ]; then
    not_ok "$name: no test result (exit status $status)" "$(tail -n 40 "$log")"
  elif [ $status -ne 0 ] && [ $failures -eq 0 ]; then
    not_ok "$name: exited with status $status" "$(tail -n 40 "$log")"
  elif [ -n "$planned" ] && [ "$planned" -ne $results ]; then
    not_ok "$name: planned $planned tests, reported $results" "$(tail -n 40 "$log")"
  fi
}

# setup_ok PACKAGE NAME: false (and a failed test) if PACKAGE's setup failed.
setup_ok() {
  local item
  for item in "${setup_failed[@]+"${setup_failed[@]}"}"; do
    if [ "$item" = "$1" ]; then
      not_ok "$2: not run, its setup failed"
      return 1
    fi
  done
}

run_example python examples/python /usr/bin/python3 test_payments.py
setup_ok node node && run_example node examples/node node --test --test-reporter=tap test/payments.test.js
setup_ok cpp cpp && run_example cpp examples/cpp ./build/test_payments
run_example psql examples/psql ./test.sh
setup_ok http http && run_example http examples/http node --test --test-reporter=tap test/api.test.js
setup_ok http http-browser &&
  SCREENSHOT_PATH=$work/screenshot.png \
    run_example http-browser examples/http node --test --test-reporter=tap test/browser.test.js
run_example pgbouncer examples/pgbouncer /usr/bin/python3 test_pgbouncer.py

finish
