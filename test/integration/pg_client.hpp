// A minimal libpq client for the integration tests: one connection per
// thread, statements with text parameters, results copied out.
#pragma once

#include <libpq-fe.h>

#include <cstddef>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace idempotency::integration {

using Value = std::optional<std::string>;  // a text value; nullopt is SQL NULL

// One statement's outcome, copied out of its PGresult.
struct Reply {
  bool ok = false;       // the statement succeeded
  std::string sqlstate;  // when it failed
  std::string message;   // when it failed
  std::vector<std::vector<Value>> rows;

  // The value at (row, column), or nullopt when out of range or NULL.
  Value at(std::size_t row, std::size_t column) const;
  // "SQLSTATE: message", for test failure messages.
  std::string error() const;
};

// The environment the tests need, or an explanation of what is missing.
// Empty when PGHOST is set.
std::string missing_server_environment();

class Connection {
 public:
  // Connects with the libpq environment (PGHOST, PGPORT, PGUSER, PGDATABASE);
  // `settings` (libpq keyword, value) override it, e.g. host and port.
  explicit Connection(const std::string& application_name,
                      const std::vector<std::pair<std::string, std::string>>& settings = {});
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  bool connected() const;
  std::string error() const;

  Reply exec(const std::string& sql, const std::vector<Value>& params = {});

 private:
  PGconn* conn_ = nullptr;
};

}  // namespace idempotency::integration
