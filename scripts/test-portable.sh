#!/usr/bin/env bash
# `make test-portable`: the portable edition (portable/, `make portable`) where
# users install it, in the Debian chroots of scripts/pg-chroot.sh, each with
# no native library installed:
#   - psql -f by a non-superuser database owner, then the shared conformance
#     suite (portable/test/conformance.sh: pg_regress files and isolation
#     specs against the native expected output), a second install refused, a
#     waiting claim_or_lookup woken by another session's commit;
#   - the purge scheduled through Debian's postgresql-N-cron, seen deleting;
#   - pg_tle 1.5.2 (PostgreSQL 12 to 17; built from ../shared/vendor):
#     installed by a pgtle_admin member, the conformance suite again,
#     ALTER EXTENSION ... UPDATE through pg_tle's update path, DROP EXTENSION;
#   - (PORTABLE_NATIVE_VERSIONS) the native edition built and installed
#     afterwards: the same contract in the catalogs, and guards moved
#     portable -> native -> portable with pg_dump.
# PORTABLE_VERSIONS="15 17 18 19" by default (19 from Debian experimental, with
# no pg_cron there: its purge checks do not run, and the plan says so).
# Needs root (chroot, mount).
# Prints TAP: "ok N - [pgV] ...", "1..N", then "portable: N passed, N failed";
# exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/pg-chroot.sh
if [ "$(id -u)" -ne 0 ]; then
  echo "test-portable needs root (chroot, mount)" >&2
  exit 1
fi
versions=${PORTABLE_VERSIONS:-15 17 18 19}
native_versions=${PORTABLE_NATIVE_VERSIONS:-15}
# The pg_tle release source: PG_TLE_TARBALL, else the copy in ../shared/vendor.
pg_tle_tarball=${PG_TLE_TARBALL:-$(pwd)/../shared/vendor/pg_tle-1.5.2.tar.gz}
run_started=$(date +%s)
number=0
failed=0
mounted=""
trap '[ -n "$mounted" ] && unmount_chroot "$mounted"' EXIT
for major in $versions; do
  started=$(date +%s)
  echo "# PostgreSQL $major"
  if ! ensure_chroot "$major"; then
    number=$((number + 1)) failed=$((failed + 1))
    echo "not ok $number - [pg$major] its chroot could not be made"
    continue
  fi
  dir=$(chroot_dir "$major")
  copy_tree_into_chroot "$major"
  mkdir -p "$dir/build/vendor" && cp "$pg_tle_tarball" "$dir/build/vendor/pg_tle-1.5.2.tar.gz"
  tle=0
  [ "$major" -le 17 ] && tle=1  # pg_tle 1.5.2 supports PostgreSQL 12 to 17
  native=0
  [[ " $native_versions " == *" $major "* ]] && native=1
  mount_chroot "$dir" && mounted=$dir
  log=$(mktemp)
  chroot "$dir" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
    PG_MAJOR="$major" PORTABLE_TLE="$tle" PORTABLE_NATIVE="$native" \
    bash /build/idempotency/scripts/portable-in-chroot.sh >"$log" 2>&1
  status=$?
  # A server just stopped inside may hold /dev a moment longer: retry.
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    unmount_chroot "$dir" 2>/dev/null
    mountpoint -q "$dir/dev" || mountpoint -q "$dir/proc" || break
    sleep 1
  done
  mountpoint -q "$dir/dev" || mountpoint -q "$dir/proc" || mounted=""
  # Renumbered into one plan, each line naming its version.
  seen=0
  while IFS= read -r line; do
    case $line in
      "ok "*) number=$((number + 1)) seen=$((seen + 1)); echo "ok $number - [pg$major] ${line#ok * - }" ;;
      "not ok "*) number=$((number + 1)) seen=$((seen + 1)) failed=$((failed + 1))
                  echo "not ok $number - [pg$major] ${line#not ok * - }" ;;
      "#"*) echo "$line" ;;
      "Bail out!"*) echo "# $line" ;;
    esac
  done <"$log"
  if [ "$status" -ne 0 ] && ! grep -q '^not ok' "$log"; then
    number=$((number + 1)) failed=$((failed + 1))
    echo "not ok $number - [pg$major] the run failed (exit $status); its log follows"
    tail -n 60 "$log" | sed 's/^/# /'
  fi
  rm -f "$log"
  echo "# PostgreSQL $major: $seen checks in $(($(date +%s) - started)) s"
done
echo "1..$number"
echo "# portable: $((number - failed)) passed, $failed failed in $(($(date +%s) - run_started)) s"
[ "$failed" -eq 0 ]
