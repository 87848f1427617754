#!/usr/bin/env bash
# Builds and installs the extension into the local PostgreSQL 15.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/cluster.sh
make -s PG_CONFIG="$PG_CONFIG" -j"$(nproc)"
if [ "$(id -u)" -eq 0 ]; then
  make -s PG_CONFIG="$PG_CONFIG" install
else
  sudo make -s PG_CONFIG="$PG_CONFIG" install
fi
