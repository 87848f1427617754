#!/usr/bin/env bash
# Builds the Citus release for $PG_CONFIG's PostgreSQL (scripts/citus-versions.sh:
# 13.2.2 on 15, 14.0.1 on 16 to 18; unmodified release source) once into a
# cache outside the tree and installs it into that PostgreSQL. A second run
# only re-installs from the cache. Citus is a test dependency, never part of
# the project: nothing of it is copied into the repository.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/citus-versions.sh

PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
pg_major=$("$PG_CONFIG" --version | grep -oE '[0-9]+' | head -n 1)
version=$(citus_version_for_major "$pg_major") ||
  { echo "no Citus release supports PostgreSQL $pg_major" >&2; exit 1; }
cache_root=${CITUS_CACHE:-/var/cache/idempotency-test}
cache=$cache_root/citus-$version-pg$pg_major
stage=$cache/stage
# The release source: CITUS_TARBALL, else the copy in ../shared/vendor, else
# one left in the cache directory (the version matrix puts it there inside
# its chroots), else the tag's archive from GitHub (a clean clone on a CI
# machine).
tarball=${CITUS_TARBALL:-$(pwd)/../shared/vendor/citus-$version.tar.gz}
[ -f "$tarball" ] || [ ! -f "$cache_root/citus-$version.tar.gz" ] ||
  tarball=$cache_root/citus-$version.tar.gz
download=https://github.com/citusdata/citus/archive/refs/tags/v$version.tar.gz

# Build dependencies from Debian (already there in the version matrix's chroots).
read -r -a deps <<<"$(citus_build_packages "$version")"
configure_options=()
[[ "$version" == 13.* ]] && configure_options+=(--without-libcurl)
[ -f "$tarball" ] || deps+=(curl ca-certificates)
missing=()
for package in "${deps[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$package")
done
if [ ${#missing[@]} -ne 0 ]; then
  [ "$(id -u)" -eq 0 ] || { echo "install: ${missing[*]}" >&2; exit 1; }
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -f "$cache/built" ]; then
  rm -rf "$cache"
  mkdir -p "$cache"
  if [ ! -f "$tarball" ]; then
    echo "Citus source not at $tarball: downloading $download" >&2
    curl -fsSL -o "$cache/citus-$version.tar.gz" "$download" ||
      { echo "Citus source not found: $tarball, and $download failed" >&2; exit 1; }
    tarball=$cache/citus-$version.tar.gz
  fi
  tar -xzf "$tarball" -C "$cache"
  src=$cache/citus-$version
  # PostgreSQL 15.20 exports have_createdb_privilege(); Citus 13.2.2 defines a
  # static inline of the same name for older minors. Rename Citus's copy (a
  # no-op on Citus 14, which has none).
  sed -i 's/^have_createdb_privilege(void)/citus_have_createdb_privilege(void)/' \
    "$src/src/include/pg_version_compat.h"
  grep -q 'citus_have_createdb_privilege(void)' "$src/src/include/pg_version_compat.h" &&
    sed -i '0,/^citus_have_createdb_privilege(void)/s//#define have_createdb_privilege citus_have_createdb_privilege\n&/' \
      "$src/src/include/pg_version_compat.h"
  (
    cd "$src"
    ./configure PG_CONFIG="$PG_CONFIG" ${configure_options[@]+"${configure_options[@]}"} >"$cache/configure.log" 2>&1
    # with_llvm=no: no JIT bitcode, which would double the build time.
    nice -n 10 make -j2 with_llvm=no >"$cache/make.log" 2>&1
    make install with_llvm=no DESTDIR="$stage" >"$cache/install.log" 2>&1
  ) || { echo "Citus build failed; see $cache/*.log" >&2; tail -n 30 "$cache"/*.log >&2; exit 1; }
  "$PG_CONFIG" --pkglibdir >"$cache/pkglibdir"
  "$PG_CONFIG" --sharedir >"$cache/sharedir"
  touch "$cache/built"
fi

# Install the staged files into this PG_CONFIG's PostgreSQL (the private
# relocated copy while developing, the system one in CI).
install -d "$("$PG_CONFIG" --pkglibdir)" "$("$PG_CONFIG" --sharedir)/extension"
cp "$stage$(cat "$cache/pkglibdir")"/*.so "$("$PG_CONFIG" --pkglibdir)/"
cp "$stage$(cat "$cache/sharedir")"/extension/citus* "$("$PG_CONFIG" --sharedir)/extension/"
echo "Citus $version installed into $("$PG_CONFIG" --pkglibdir)"
