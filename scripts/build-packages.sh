#!/usr/bin/env bash
# `make packages`: the Debian packages postgresql-N-idempotency for each major
# N in PACKAGE_MAJORS (scripts/pg-chroot.sh), each built from the working tree
# by dpkg-buildpackage (debian/, pg_buildext) in a throwaway layer over N's
# chroot, so the chroot keeps nothing of the build. Each build is checked:
# lintian reports no errors, and scripts/check-package.sh finds the library's
# functions, the control file and the SQL scripts in the package (and refuses
# it once its library is swapped for an empty one).
# The .deb, .changes, .buildinfo files and lintian's report go to
# PACKAGES_DIR/pgN-SUITE/ (PACKAGES_DIR defaults to packages/ in the chroot
# cache, outside the source tree). Prints TAP lines; exits non-zero on any
# failure. Needs root (chroot, mount).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
source scripts/pg-chroot.sh

if [ "$(id -u)" -ne 0 ]; then
  echo "make packages needs root (chroot, mount)" >&2
  exit 1
fi
packages_dir=${PACKAGES_DIR:-$IDEMPOTENCY_CHROOT_CACHE/packages}
failed=0 n=0 layer=""
trap '[ -n "$layer" ] && unmount_layer "$layer"' EXIT
# result STATUS DESCRIPTION: one TAP line.
result() {
  n=$((n + 1))
  if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=1; fi
}
# in_layer COMMAND: runs a shell command in the build layer, as a clean root login.
in_layer() {
  chroot "$layer" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
    DEBIAN_FRONTEND=noninteractive bash -c "$1"
}

for major in $PACKAGE_MAJORS; do
  started=$(date +%s)
  package=postgresql-$major-idempotency
  ensure_chroot "$major" || { result 1 "PostgreSQL $major: its chroot"; continue; }
  base=$(chroot_dir "$major")
  out=$packages_dir/$(basename "$base")
  rm -rf "$out" && mkdir -p "$out"
  layer=$base.package-build
  mount_layer "$base" "$layer" || { result 1 "PostgreSQL $major: a build layer over $base"; continue; }
  copy_tree_to "$layer/build/idempotency"

  # pg_buildext builds for the versions of debian/pgversions the system
  # supports: here exactly this chroot's, whose debian/control it writes.
  in_layer "cd /build/idempotency && PG_SUPPORTED_VERSIONS=$major PG_UPDATECONTROL=yes \
    DEB_BUILD_OPTIONS=parallel=2 nice -n 10 dpkg-buildpackage -us -uc -b" >"$out/build.log" 2>&1
  status=$?
  [ "$status" -eq 0 ] || tail -n 60 "$out/build.log" | sed 's/^/# /'
  result "$status" "$package built by dpkg-buildpackage (log: $out/build.log)"

  if [ "$status" -eq 0 ]; then
    in_layer "lintian --fail-on error --display-info /build/idempotency_*_*.changes" \
      >"$out/lintian.txt" 2>&1
    status=$?
    sed 's/^/# lintian: /' "$out/lintian.txt"
    result "$status" "lintian: no errors in $package"
    in_layer "/build/idempotency/scripts/check-package.sh /build/${package}_*.deb /build/idempotency" \
      | sed "s/^ok [0-9]* - /ok - /; s/^not ok [0-9]* - /not ok - /" >"$out/check.txt"
    status=${PIPESTATUS[0]}
    grep -v '^ok' "$out/check.txt"
    result "$status" "$package holds what check-package.sh requires ($(grep -c '^ok' "$out/check.txt") checks)"
    # The same check must refuse the package with its library swapped for
    # one that exports no function (what a build that found no sources makes).
    in_layer "rm -rf /tmp/empty && dpkg-deb -R /build/${package}_*.deb /tmp/empty &&
      echo 'int unrelated(void) { return 0; }' |
        gcc -x c -shared -fPIC -o /tmp/empty/usr/lib/postgresql/$major/lib/idempotency.so - &&
      dpkg-deb -b /tmp/empty /tmp/${package}_empty.deb >/dev/null &&
      ! /build/idempotency/scripts/check-package.sh /tmp/${package}_empty.deb /build/idempotency" \
      >"$out/check-empty.txt" 2>&1
    result $? "check-package.sh refuses $package with an empty library"
    cp "$layer"/build/*.deb "$layer"/build/*.changes "$layer"/build/*.buildinfo "$out/"
  fi
  unmount_layer "$layer" && layer=""
  echo "# PostgreSQL $major: $(($(date +%s) - started)) s, into $out"
done
echo "1..$n"
exit "$failed"
