#!/usr/bin/env bash
# Makes (or brings up to date) the chroot of every PostgreSQL major the
# version matrix and the package tests use, one after the other (apt in two
# chroots at once would only compete for the same mirror). Needs root.
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/pg-chroot.sh
status=0
for major in $(echo "${PG_VERSIONS:-17 18 19} $PACKAGE_MAJORS" | tr ' ' '\n' | sort -un); do
  started=$(date +%s)
  if ensure_chroot "$major"; then
    echo "chroot of PostgreSQL $major ready ($(($(date +%s) - started)) s)"
  else
    echo "chroot of PostgreSQL $major failed"
    status=1
  fi
done
exit "$status"
