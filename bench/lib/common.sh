# Shared by bench/run and bench/profile. Source it from the repository root,
# after scripts/cluster.sh.
#
#   bench_install_packages [extra Debian packages...]
#   bench_build_extension WORK     builds the extension; sets EXT_SRC, EXT_DESCRIBE
#   bench_private_postgres WORK    a private copy of PostgreSQL (PG_MAJOR, 15 by default) holding that build;
#                                  sets PG_BIN (used by scripts/cluster.sh)

SYSTEM_PG_BIN=${SYSTEM_PG_BIN:-/usr/lib/postgresql/${PG_MAJOR:-15}/bin}

bench_log() { printf '[bench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

# The project's own packages (scripts/install-deps.sh), then the benchmark's.
# pgbench ships in Debian 12's postgresql-15 itself (dpkg -S says so), so it
# needs no postgresql-contrib; redis-benchmark comes with redis-tools.
bench_install_packages() {
  # (bench/versions installs a chroot's packages itself.)
  [ "${IDEMPOTENCY_SKIP_DEPS:-0}" = 1 ] || ./scripts/install-deps.sh
  local missing=() package
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
      missing+=("$package")
  done
  if [ ! -x "$SYSTEM_PG_BIN/pgbench" ] &&
    ! dpkg-query -W -f='${Status}' postgresql-contrib 2>/dev/null | grep -q "install ok installed"; then
    missing+=(postgresql-contrib)
  fi
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing packages: ${missing[*]} (sudo apt-get install ${missing[*]})" >&2
    return 1
  fi
  bench_log "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Builds the extension. By default from the working tree with scripts/build.sh
# (which also installs it into the system's PostgreSQL, as `make demo`/`make
# test` do). With BENCH_REF=<commit> (e.g. HEAD), from that commit instead,
# exported into WORK and built there; with BENCH_SRC=<dir>, from a copy of the
# sources elsewhere (e.g. a patched one, to measure a proposal). Both leave
# the working tree and the system installation alone.
bench_build_extension() {
  local work=$1 root
  root=$(pwd)
  if [ -n "${BENCH_SRC:-}" ]; then
    EXT_SRC=$(cd "$BENCH_SRC" && pwd)
    bench_log "building the extension in $EXT_SRC"
    make -s -C "$EXT_SRC" PG_CONFIG="$SYSTEM_PG_BIN/pg_config" -j"$(nproc)" >/dev/null
    EXT_DESCRIBE="built from $EXT_SRC"
  elif [ -n "${BENCH_REF:-}" ]; then
    EXT_SRC=$work/src
    mkdir -p "$EXT_SRC"
    git archive "$BENCH_REF" | tar -x -C "$EXT_SRC"
    bench_log "building the extension from $BENCH_REF ($(git rev-parse --short "$BENCH_REF"))"
    make -s -C "$EXT_SRC" PG_CONFIG="$SYSTEM_PG_BIN/pg_config" -j"$(nproc)" >/dev/null
    EXT_DESCRIBE="$(git rev-parse --short "$BENCH_REF") ($BENCH_REF)"
  else
    bench_log "building and installing the extension (scripts/build.sh)"
    ./scripts/build.sh
    EXT_SRC=$root
    EXT_DESCRIBE="$(git rev-parse --short HEAD)"
    if [ -n "$(git status --porcelain -- src sql idempotency.control Makefile 2>/dev/null)" ]; then
      EXT_DESCRIBE="$EXT_DESCRIBE + uncommitted changes in src/ or sql/"
    fi
  fi
  export EXT_SRC EXT_DESCRIBE
}

# The benchmark's cluster runs from a private copy of PostgreSQL 15 (48 MB)
# with the extension just built copied in. PostgreSQL finds its share and lib
# directories relative to its binary, so the copy is self-contained: another
# checkout's `make install` on this shared machine cannot swap the library
# (or its SQL script) under a running benchmark.
bench_private_postgres() {
  local work=$1 prefix
  prefix=$work/pg
  local bindir sharedir pkglibdir
  bindir=$("$SYSTEM_PG_BIN/pg_config" --bindir)
  sharedir=$("$SYSTEM_PG_BIN/pg_config" --sharedir)
  pkglibdir=$("$SYSTEM_PG_BIN/pg_config" --pkglibdir)
  mkdir -p "$prefix$(dirname "$bindir")" "$prefix$(dirname "$sharedir")"
  cp -a "$(dirname "$bindir")/." "$prefix$(dirname "$bindir")/"
  cp -a "$sharedir" "$prefix$(dirname "$sharedir")/"
  # bitcode of whatever was installed system-wide would not match this build
  rm -rf "$prefix$pkglibdir/bitcode/idempotency" "$prefix$pkglibdir/bitcode/idempotency.index.bc"
  cp "$EXT_SRC/idempotency.so" "$prefix$pkglibdir/"
  cp "$EXT_SRC/idempotency.control" "$EXT_SRC"/sql/idempotency--*.sql "$prefix$sharedir/extension/"
  chmod -R a+rX "$work"
  PG_BIN=$prefix$bindir
  export PG_BIN PG_CONFIG=$PG_BIN/pg_config
}
