#!/usr/bin/env bash
# `make test-versions`: the build with -Werror, pg_regress, the isolation
# specs, the libpq stress test, the TAP tests and, where a Citus release
# supports the major (scripts/citus-versions.sh: 17 and 18), the Citus suite
# on PostgreSQL 17, 18 and 19, each from Debian's own packages in a chroot
# (scripts/pg-chroot.sh; 19 from experimental). The working tree is copied in,
# so what is tested is what is checked out here. PG_VERSIONS="17" runs a
# subset, SUITES="tap citus" some suites. The suite "packages" (in SUITES by
# default) then builds and tests the Debian packages of PACKAGE_MAJORS
# (scripts/pg-chroot.sh) and the PGXN zip. Needs root (chroot, mount).
# Prints each version's suite lines, its "tests: N passed, N failed" line,
# and a closing line over all versions; exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/pg-chroot.sh

if [ "$(id -u)" -ne 0 ]; then
  echo "test-versions needs root (debootstrap, chroot, mount)" >&2
  exit 1
fi

versions=${PG_VERSIONS:-17 18 19}
requested=" ${SUITES:-compile-fail regress isolation integration tap citus packages} "
# The Citus release source goes into the chroot's cache directory, where
# scripts/build-citus.sh finds it (the tree copied in has no ../shared).
vendor=${IDEMPOTENCY_VENDOR_DIR:-$(pwd)/../shared/vendor}
total_passed=0
total_failed=0
failed_versions=()
mounted=""
trap '[ -n "$mounted" ] && unmount_chroot "$mounted"' EXIT

for major in $versions; do
  started=$(date +%s)
  echo "== PostgreSQL $major"
  if ! ensure_chroot "$major"; then
    echo "FAIL  PostgreSQL $major: could not make its chroot"
    total_failed=$((total_failed + 1))
    failed_versions+=("$major")
    continue
  fi
  dir=$(chroot_dir "$major")
  copy_tree_into_chroot "$major"
  # Every requested suite but the packages, which run once after the loop;
  # citus only where a Citus release supports the major.
  suites=${requested/ packages / }
  citus=$(citus_version_for_major "$major") || citus=""
  if [[ "$suites" == *" citus "* ]] && [ -z "$citus" ]; then
    [ -n "${SUITES:-}" ] && echo "[pg$major] no Citus release supports PostgreSQL $major: suite citus not run"
    suites=${suites/ citus / }
  fi
  if [ -n "$citus" ] && [ -f "$vendor/citus-$citus.tar.gz" ]; then
    mkdir -p "$dir/var/cache/idempotency-test"
    cp "$vendor/citus-$citus.tar.gz" "$dir/var/cache/idempotency-test/"
  fi
  mount_chroot "$dir" && mounted=$dir
  log=$(mktemp)
  chroot "$dir" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
    PG_MAJOR="$major" IDEMPOTENCY_SKIP_DEPS=1 SUITES="$suites" \
    bash /build/idempotency/scripts/test.sh >"$log" 2>&1
  status=$?
  unmount_chroot "$dir" && mounted=""
  # The suite lines, then this version's total, prefixed with the version.
  grep -E '^(ok|FAIL) ' "$log" | sed "s/^/[pg$major] /"
  line=$(grep -E '^tests: [0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
  passed=$(echo "$line" | awk '{print $2}')
  failed=$(echo "$line" | awk '{print $4}')
  passed=${passed:-0}
  failed=${failed:-0}
  if [ "$status" -ne 0 ] || [ -z "$line" ]; then
    [ "$failed" -eq 0 ] && failed=1
    failed_versions+=("$major")
    echo "[pg$major] the run failed (exit $status); its log follows"
    tail -n 200 "$log"
  fi
  rm -f "$log"
  echo "[pg$major] $passed passed, $failed failed ($(($(date +%s) - started)) s)"
  total_passed=$((total_passed + passed))
  total_failed=$((total_failed + failed))
done

# The Debian packages of PACKAGE_MAJORS: built (make packages),
# then installed and tested as a DBA would (make test-packages).
if [[ "$requested" == *" packages "* ]]; then
  started=$(date +%s)
  echo "== Debian packages (PostgreSQL $PACKAGE_MAJORS)"
  log=$(mktemp)
  scripts/build-packages.sh >"$log" 2>&1
  build_status=$?
  scripts/test-packages.sh >>"$log" 2>&1
  status=$?
  passed=$(grep -cE '^ok [0-9]+' "$log")
  failed=$(grep -cE '^not ok [0-9]+' "$log")
  grep -E '^(not )?ok [0-9]+' "$log" | sed 's/^/[packages] /'
  if [ "$build_status" -ne 0 ] || [ "$status" -ne 0 ] || [ "$passed" -eq 0 ]; then
    [ "$failed" -eq 0 ] && failed=1
    failed_versions+=("packages")
    grep -E '^# ' "$log" | tail -n 100
  fi
  rm -f "$log"
  echo "[packages] $passed passed, $failed failed ($(($(date +%s) - started)) s)"
  total_passed=$((total_passed + passed))
  total_failed=$((total_failed + failed))
fi

echo
[ ${#failed_versions[@]} -eq 0 ] || echo "failed on PostgreSQL ${failed_versions[*]}"
echo "versions: $total_passed passed, $total_failed failed"
[ ${#failed_versions[@]} -eq 0 ]
