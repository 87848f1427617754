#!/usr/bin/env bash
# `make demo`: builds and installs the extension, starts a throwaway cluster,
# and runs the double charge simulator (demo/double_charge.py) against it.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
scripts/build.sh

source scripts/cluster.sh
dir=$(make_cluster_dir demo)
trap 'stop_cluster "$dir"; rm -rf "$dir"' EXIT
port=$(free_port)
start_cluster "$dir" "$port"

"$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -d postgres -c 'CREATE EXTENSION idempotency'
# Debian's python, where python3-psycopg (psycopg 3) is installed.
/usr/bin/python3 demo/double_charge.py
