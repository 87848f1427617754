#!/usr/bin/env bash
# check-layering.sh [SRC]: the include arrows of src/ point one way only,
#   module -> sql_functions, worker -> pg -> core
# Each layer may include its own headers and those of the layers below it;
# src/core includes nothing in quotes but its own headers (no PostgreSQL
# header: it is tested without a server). Prints every include that
# points back up and exits 1 if there is one. Run by `make test`
# (compile-fail suite), which also runs it on a tree that breaks the rule.
set -euo pipefail
src=${1:-src}

# The project headers each layer may include, as an extended regex.
allowed_for() {
  case "$1" in
    core) echo '^core/' ;;
    pg) echo '^(core|pg)/' ;;
    sql_functions) echo '^(core|pg|sql_functions)/' ;;
    worker) echo '^(core|pg|worker)/' ;;
  esac
}

violations=0
for layer in core pg sql_functions worker; do
  [ -d "$src/$layer" ] || continue
  allowed=$(allowed_for "$layer")
  while IFS=: read -r file line include; do
    header=$(sed -E 's/.*#include "([^"]+)".*/\1/' <<<"$include")
    # Outside core, a header that is not the project's is PostgreSQL's.
    [ "$layer" != core ] && ! grep -qE '^(core|pg|sql_functions|worker|module)[/.]' <<<"$header" &&
      continue
    if ! grep -qE "$allowed" <<<"$header"; then
      echo "$file:$line: $layer includes \"$header\", a layer above it"
      violations=$((violations + 1))
    fi
  done < <(grep -rnE '^#include "' "$src/$layer" --include='*.cpp' --include='*.hpp' || true)
done
[ "$violations" -eq 0 ]
