#include "core/database_list.hpp"

#include <algorithm>

#include "core/guard_error.hpp"

namespace idempotency::core {
namespace {

std::string_view trim(std::string_view text) {
  const char* blanks = " \t\r\n";
  std::size_t first = text.find_first_not_of(blanks);
  if (first == std::string_view::npos) return {};
  std::size_t last = text.find_last_not_of(blanks);
  return text.substr(first, last - first + 1);
}

}  // namespace

std::vector<std::string> parse_database_list(std::string_view list) {
  std::vector<std::string> names;
  if (trim(list).empty()) return names;
  std::size_t start = 0;
  while (true) {
    std::size_t comma = list.find(',', start);
    std::string_view name = trim(list.substr(
        start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
    if (name.empty()) {
      throw GuardError(SqlState::kInvalidParameterValue,
                       "idempotency.databases contains an empty database name");
    }
    if (name.size() > kMaxDatabaseNameBytes) {
      throw GuardError(SqlState::kInvalidParameterValue,
                       "database name \"" + std::string(name) + "\" is longer than " +
                           std::to_string(kMaxDatabaseNameBytes) + " bytes");
    }
    if (std::find(names.begin(), names.end(), name) == names.end()) {
      names.emplace_back(name);
    }
    if (names.size() > kMaxPurgeDatabases) {
      throw GuardError(SqlState::kInvalidParameterValue, "idempotency.databases lists more than " +
                                                             std::to_string(kMaxPurgeDatabases) +
                                                             " databases");
    }
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return names;
}

}  // namespace idempotency::core
