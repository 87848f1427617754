#!/usr/bin/env bash
# check-layering.sh [SRC]: the include arrows of src/ point one way only, down
# this list of layers (src/module.cpp sits on top and may include any):
#   sql_functions  the SQL-callable functions
#   worker         the purge worker, its launcher and their shared state
#   claims         a claim's decision, outcome recording, waits, commit wake-ups
#   config         retention policies, scope restrictions, limits, table watches
#   guards         the guard table: description, heap access, SQL, purge
#   counters       the per-scope event counters in shared memory
#   glue           the PostgreSQL glue: error boundary, arguments, rows, settings
#   core           pure C++, tested without a server
# Each layer may include its own headers and those of the layers below it;
# src/core includes nothing in quotes but its own headers (no PostgreSQL
# header). Prints every include that points up and exits 1 if there is one.
# Run by `make test` (compile-fail suite), which also runs it on a tree that
# breaks the rule.
set -euo pipefail
src=${1:-src}
layers=(core glue counters guards config claims worker sql_functions)
project_header="^($(
  IFS='|'
  echo "${layers[*]}"
)|module)[/.]"

violations=0
for ((level = 0; level < ${#layers[@]}; level++)); do
  layer=${layers[level]}
  [ -d "$src/$layer" ] || continue
  allowed="^($(
    IFS='|'
    echo "${layers[*]:0:level+1}"
  ))/"
  while IFS=: read -r file line include; do
    header=$(sed -E 's/.*#include "([^"]+)".*/\1/' <<<"$include")
    # Outside core, a header that is not the project's is PostgreSQL's.
    [ "$layer" != core ] && ! grep -qE "$project_header" <<<"$header" && continue
    if ! grep -qE "$allowed" <<<"$header"; then
      echo "$file:$line: $layer includes \"$header\", a layer above it"
      violations=$((violations + 1))
    fi
  done < <(grep -rnE '^#include "' "$src/$layer" --include='*.cpp' --include='*.hpp' || true)
done
[ "$violations" -eq 0 ]
