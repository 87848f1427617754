#!/usr/bin/env bash
# Installs the Debian 12 packages the build, tests and demo need, if missing.
# As root it runs apt-get itself; otherwise it says what to install.
set -euo pipefail

packages=(
  build-essential cmake libgtest-dev libpq-dev pkg-config
  postgresql-15 postgresql-server-dev-15 postgresql-client-15 clang-14 llvm-14 libclang-rt-14-dev
  libipc-run-perl prometheus-postgres-exporter
  python3 python3-psycopg
)

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "missing packages: ${missing[*]}" >&2
  echo "install them with: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts a main cluster on port 5432 with the server package; the
# project's clusters are throwaway ones on their own ports, so leave it be.
