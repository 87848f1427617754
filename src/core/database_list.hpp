// Parsing idempotency.databases: the databases a purge worker runs in.
#pragma once
#include "core/pure_cpp.hpp"

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace idempotency::core {

// One purge worker per database uses one background-worker slot each; the
// list is capped so a typo cannot exhaust max_worker_processes.
constexpr std::size_t kMaxPurgeDatabases = 32;
// PostgreSQL identifiers are at most NAMEDATALEN - 1 = 63 bytes.
constexpr std::size_t kMaxDatabaseNameBytes = 63;

// Splits a comma-separated list, trimming blanks around each name and
// dropping duplicates (first occurrence kept). Names are taken literally:
// "Sales" and "sales" are different databases. Throws GuardError (22023) on
// an empty name, a name over 63 bytes, or more than kMaxPurgeDatabases names.
// An empty or all-blank list means no workers.
std::vector<std::string> parse_database_list(std::string_view list);

}  // namespace idempotency::core
