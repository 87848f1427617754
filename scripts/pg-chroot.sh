# Debian chroots with another PostgreSQL major version from Debian's own
# packages, for the version matrix (scripts/test-versions.sh). Source this
# file; run as root. A chroot is made once and cached outside the tree.
#
#   PostgreSQL 15: Debian 12 (bookworm), for the package tests
#   PostgreSQL 17: Debian 13 (trixie)
#   PostgreSQL 18: Debian unstable (sid)
#   PostgreSQL 19: Debian unstable (sid) with its packages from experimental

source "$(dirname "${BASH_SOURCE[0]}")/citus-versions.sh"

IDEMPOTENCY_CHROOT_CACHE=${IDEMPOTENCY_CHROOT_CACHE:-/var/cache/idempotency-test}
# The majors `make packages` builds postgresql-N-idempotency for, and
# scripts/test-packages.sh installs and tests, each in its chroot (19's
# installs PostgreSQL from experimental: chroot_packages).
PACKAGE_MAJORS=${PACKAGE_MAJORS:-15 17 18 19}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

# The Debian suite that ships PostgreSQL MAJOR.
suite_for_major() {
  case "$1" in
    15) echo bookworm ;;
    17) echo trixie ;;
    18 | 19) echo sid ;;
    *) echo "no Debian suite known for PostgreSQL $1" >&2; return 1 ;;
  esac
}

chroot_dir() { echo "$IDEMPOTENCY_CHROOT_CACHE/pg$1-$(suite_for_major "$1")"; }

# What a build and the suites need inside: the server and its headers (PGXS,
# pg_regress, pg_isolation_regress and the TAP modules), a C++ toolchain,
# GoogleTest and libpq for the stress test, IPC::Run for TAP, python3 for
# free_port, the Prometheus exporter for its TAP test, what the Debian
# packages are built and checked with (scripts/build-packages.sh: pg_buildext
# from postgresql-server-dev-all, debhelper, lintian) and pgxnclient, which
# installs the PGXN zip (scripts/test-packages.sh), what the portable
# edition's tests need, and, on a major that a Citus release supports, what
# building that Citus needs (the citus suite).
chroot_packages() {
  local server="postgresql-$1 postgresql-server-dev-$1 postgresql-client-$1 libpq-dev"
  # 19 is only in experimental: name each of its packages' suite (installing
  # with -t experimental drags in an uninstallable perl).
  # 19's libpq.pc requires libcurl (OAuth), which libpq-dev does not pull in.
  # shellcheck disable=SC2001
  [ "$1" = 19 ] &&
    server="$(echo "$server libpq5" | sed 's|\([^ ]*\)|\1/experimental|g') libcurl4-openssl-dev"
  # The portable edition's tests (scripts/test-portable.sh): pg_cron, and flex
  # and bison and the GSSAPI headers to build pg_tle. Debian has no pg_cron
  # for 19 yet.
  local portable="postgresql-$1-cron flex bison libkrb5-dev"
  [ "$1" = 19 ] && portable=""
  local citus=""
  citus=$(citus_version_for_major "$1") && citus=$(citus_build_packages "$citus")
  echo "$server build-essential cmake" \
    "libgtest-dev pkg-config libipc-run-perl python3 make prometheus-postgres-exporter" \
    "postgresql-server-dev-all debhelper lintian pgxnclient unzip${portable:+ $portable}${citus:+ $citus}"
}

# install_chroot_packages MAJOR DIR: installs chroot_packages into DIR.
install_chroot_packages() {
  local major=$1 dir=$2 apt_options=()
  # sid's Release file is often past its Valid-Until date.
  [ "$(suite_for_major "$major")" = sid ] && apt_options=(-o Acquire::Check-Valid-Until=false)
  if [ "$major" = 19 ]; then
    echo "deb $DEBIAN_MIRROR experimental main" >"$dir/etc/apt/sources.list.d/experimental.list"
  fi
  mount_chroot "$dir"
  # shellcheck disable=SC2046
  chroot "$dir" env DEBIAN_FRONTEND=noninteractive sh -c \
    "apt-get ${apt_options[*]} update -qq &&
     apt-get install -y -qq --no-install-recommends $(chroot_packages "$major")" \
    >>"$dir.log" 2>&1
  local status=$?
  unmount_chroot "$dir"
  [ "$status" -eq 0 ] || { tail -n 30 "$dir.log"; return 1; }
  # The stamp names the packages, so a longer list installs what is new.
  chroot_packages "$major" >"$dir/.idempotency-ready"
}

# The chroot sees the host's devices (with /dev/shm, which the server's
# dynamic shared memory uses) and its own /proc, which postgresql-common's
# postinst and the server need.
mount_chroot() {
  local dir=$1
  mountpoint -q "$dir/proc" || mount -t proc proc "$dir/proc"
  mountpoint -q "$dir/dev" || { mount --rbind /dev "$dir/dev" && mount --make-rslave "$dir/dev"; }
}

unmount_chroot() {
  local dir=$1
  mountpoint -q "$dir/dev" && umount -R "$dir/dev"
  mountpoint -q "$dir/proc" && umount "$dir/proc"
  return 0
}

# ensure_chroot MAJOR: makes (or reuses) the chroot of PostgreSQL MAJOR.
ensure_chroot() {
  local major=$1 suite dir
  suite=$(suite_for_major "$major") || return 1
  dir=$(chroot_dir "$major")
  if [ -f "$dir/.idempotency-ready" ]; then
    [ "$(cat "$dir/.idempotency-ready")" = "$(chroot_packages "$major")" ] && return 0
    echo "installing new packages into the PostgreSQL $major chroot"
    install_chroot_packages "$major" "$dir"
    return
  fi
  command -v debootstrap >/dev/null ||
    { apt-get update -qq && apt-get install -y -qq debootstrap >/dev/null; } || return 1
  rm -rf "$dir.partial" && mkdir -p "$IDEMPOTENCY_CHROOT_CACHE"
  echo "making the PostgreSQL $major chroot ($suite) in $dir"
  debootstrap --variant=minbase "$suite" "$dir.partial" "$DEBIAN_MIRROR" >"$dir.partial.log" 2>&1 ||
    { tail -n 20 "$dir.partial.log"; return 1; }
  # No main cluster and no service start: the tests make their own clusters.
  mkdir -p "$dir.partial/etc/postgresql-common"
  echo "create_main_cluster = false" >"$dir.partial/etc/postgresql-common/createcluster.conf"
  printf '#!/bin/sh\nexit 101\n' >"$dir.partial/usr/sbin/policy-rc.d"
  chmod 755 "$dir.partial/usr/sbin/policy-rc.d"
  install_chroot_packages "$major" "$dir.partial" || return 1
  mv "$dir.partial" "$dir"
  mv "$dir.partial.log" "$dir.log"
}

# copy_tree_into_chroot MAJOR: the working tree (tracked and untracked files,
# no build output) at /build/idempotency inside the chroot.
copy_tree_into_chroot() {
  copy_tree_to "$(chroot_dir "$1")/build/idempotency"
}

# copy_tree_to DIR: the working tree (tracked and untracked files, no build
# output) in DIR.
copy_tree_to() {
  local target=$1
  rm -rf "$target" && mkdir -p "$target"
  git ls-files -z --cached --others --exclude-standard |
    xargs -0 -I{} sh -c 'test -e "{}" && printf "%s\0" "{}"' |
    tar --null -T - -cf - | tar -xf - -C "$target"
}

# mount_layer BASE DIR: DIR becomes a throwaway chroot on top of the chroot
# BASE, which stays untouched: an overlay whose changes go to DIR.upper (a full
# copy where overlayfs is unavailable), with /dev and /proc mounted.
mount_layer() {
  local base=$1 dir=$2
  unmount_layer "$dir" || return 1
  mkdir -p "$dir" "$dir.upper" "$dir.work"
  mount -t overlay overlay -o "lowerdir=$base,upperdir=$dir.upper,workdir=$dir.work" "$dir" \
    2>/dev/null || cp -a "$base/." "$dir/" || return 1
  mount_chroot "$dir"
}

# unmount_layer DIR: unmounts and deletes a layer made by mount_layer; refuses
# (and deletes nothing) while anything is still mounted in it.
unmount_layer() {
  local dir=$1
  [ -d "$dir" ] || { rm -rf "$dir.upper" "$dir.work"; return 0; }
  unmount_chroot "$dir"
  if mountpoint -q "$dir"; then umount "$dir" || return 1; fi
  if mountpoint -q "$dir/dev" || mountpoint -q "$dir/proc" || mountpoint -q "$dir"; then
    echo "$dir is still mounted; not deleted" >&2
    return 1
  fi
  rm -rf "$dir" "$dir.upper" "$dir.work"
}
