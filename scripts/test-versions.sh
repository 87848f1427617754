#!/usr/bin/env bash
# `make test-versions`: the build with -Werror, pg_regress, the isolation
# specs, the libpq stress test, the TAP tests and, where a Citus release
# supports the major (scripts/citus-versions.sh), the Citus suite on
# PostgreSQL 17 and 18, each from Debian's own packages in a chroot
# (scripts/pg-chroot.sh). The working tree is copied in, so what is tested is
# what is checked out here. PG_VERSIONS="17" runs a subset, SUITES="tap citus"
# some suites. Needs root (chroot, mount).
# Prints each version's suite lines, its "tests: N passed, N failed" line,
# and a closing line over all versions; exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/pg-chroot.sh

if [ "$(id -u)" -ne 0 ]; then
  echo "test-versions needs root (debootstrap, chroot, mount)" >&2
  exit 1
fi

versions=${PG_VERSIONS:-17 18}
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
  suites=${SUITES:-compile-fail regress isolation integration tap}
  citus=$(citus_version_for_major "$major") || citus=""
  if [ -z "${SUITES:-}" ] && [ -n "$citus" ]; then
    suites="$suites citus"
  elif [[ " $suites " == *" citus "* ]] && [ -z "$citus" ]; then
    echo "[pg$major] no Citus release supports PostgreSQL $major: suite citus not run"
    suites=$(echo " $suites " | sed 's/ citus / /')
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

echo
[ ${#failed_versions[@]} -eq 0 ] || echo "failed on PostgreSQL ${failed_versions[*]}"
echo "versions: $total_passed passed, $total_failed failed"
[ ${#failed_versions[@]} -eq 0 ]
