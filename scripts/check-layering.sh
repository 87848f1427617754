#!/usr/bin/env bash
# check-layering.sh [SRC]: the one statement of src/'s layers, and their check.
# The include arrows of src/ point one way only, down this list of levels
# (src/module.cpp sits on top and may include any):
#   sql_functions       the SQL-callable functions
#   claims | worker     a claim's decision, outcome recording, waits and commit
#                       wake-ups | the purge worker, its launcher, their state
#   policies            retention policies, scope access, scope limits (and
#                       their slots in shared memory) and the table watch that
#                       invalidates their caches
#   guards | counters   the guard table: description, heap access, SQL, purge |
#                       the per-scope event counters in shared memory
#   glue                the PostgreSQL glue: error boundary, arguments, rows, settings
#   core                pure C++, tested without a server
# A file may include the headers of its own folder and of the levels below
# its own; folders of one level (a|b) are siblings: neither includes the
# other. src/core includes nothing in quotes but its own headers (no
# PostgreSQL header). Every folder of SRC must be in the list.
# Prints every include that breaks the rule, and every file of a folder in
# no level, and exits 1 if there is one. Run by `make test` (compile-fail
# suite), which also runs it on a tree that breaks each rule
# (test/layering_violation). The Makefile builds whatever src/*/*.cpp holds.
set -euo pipefail
src=${1:-src}
levels=(core glue "guards counters" policies "claims worker" sql_functions)

# alternation LEVEL...: the folders of those levels as an ERE alternation.
alternation() {
  local folders
  read -ra folders <<<"$*"
  (
    IFS='|'
    echo "${folders[*]}"
  )
}
project_header="^($(alternation "${levels[@]}")|module)[/.]"

violations=0
for folder in "$src"/*/; do
  folder=$(basename "$folder")
  grep -qE "^($(alternation "${levels[@]}"))\$" <<<"$folder" && continue
  while read -r file; do
    echo "$file: in $src/$folder, a folder of no layer (add it to scripts/check-layering.sh)"
    violations=$((violations + 1))
  done < <(find "$src/$folder" -name '*.[ch]pp')
done

for ((level = 0; level < ${#levels[@]}; level++)); do
  below=$(alternation "${levels[@]:0:level}")
  for layer in ${levels[level]}; do
    [ -d "$src/$layer" ] || continue
    allowed="^(${below:+$below|}$layer)/"
    while IFS=: read -r file line include; do
      header=$(sed -E 's/.*#include "([^"]+)".*/\1/' <<<"$include")
      # Outside core, a header that is not the project's is PostgreSQL's.
      [ "$layer" != core ] && ! grep -qE "$project_header" <<<"$header" && continue
      grep -qE "$allowed" <<<"$header" && continue
      if ! grep -qE "$project_header" <<<"$header"; then
        why="a header from outside core"
      elif grep -qE "^($(alternation "${levels[level]}"))/" <<<"$header"; then
        why="a header of a sibling layer"
      else
        why="a header of a layer above it"
      fi
      echo "$file:$line: $layer includes \"$header\", $why"
      violations=$((violations + 1))
    done < <(grep -rnE '^#include "' "$src/$layer" --include='*.cpp' --include='*.hpp' || true)
  done
done
[ "$violations" -eq 0 ]
