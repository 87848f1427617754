#include "pg_client.hpp"

#include <cstdlib>

namespace idempotency::integration {

Value Reply::at(std::size_t row, std::size_t column) const {
  if (row >= rows.size() || column >= rows[row].size()) return std::nullopt;
  return rows[row][column];
}

std::string Reply::error() const { return sqlstate + ": " + message; }

std::string missing_server_environment() {
  const char* host = std::getenv("PGHOST");
  if (host != nullptr && *host != '\0') return {};
  return "PGHOST is not set. These integration tests need a running PostgreSQL 15 server "
         "with the idempotency extension installed (and preloaded); point libpq at it with "
         "PGHOST, PGPORT, PGUSER and PGDATABASE. `make test` (scripts/test.sh) runs them "
         "against a throwaway cluster.";
}

Connection::Connection(const std::string& application_name,
                       const std::vector<std::pair<std::string, std::string>>& settings) {
  std::vector<const char*> keywords = {"fallback_application_name"};
  std::vector<const char*> values = {application_name.c_str()};
  for (const auto& [keyword, value] : settings) {
    keywords.push_back(keyword.c_str());
    values.push_back(value.c_str());
  }
  keywords.push_back(nullptr);
  values.push_back(nullptr);
  conn_ = PQconnectdbParams(keywords.data(), values.data(), 0);
}

Connection::~Connection() {
  if (conn_ != nullptr) PQfinish(conn_);
}

bool Connection::connected() const { return conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK; }

std::string Connection::error() const {
  return conn_ == nullptr ? "out of memory" : PQerrorMessage(conn_);
}

Reply Connection::exec(const std::string& sql, const std::vector<Value>& params) {
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const Value& param : params) values.push_back(param ? param->c_str() : nullptr);
  PGresult* result = PQexecParams(conn_, sql.c_str(), static_cast<int>(values.size()), nullptr,
                                  values.data(), nullptr, nullptr, 0);
  Reply reply;
  ExecStatusType status = result == nullptr ? PGRES_FATAL_ERROR : PQresultStatus(result);
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) {
    reply.ok = true;
    int row_count = PQntuples(result);
    int column_count = PQnfields(result);
    reply.rows.resize(static_cast<std::size_t>(row_count));
    for (int row = 0; row < row_count; ++row) {
      for (int column = 0; column < column_count; ++column) {
        reply.rows[row].push_back(
            PQgetisnull(result, row, column) ? Value{} : Value{PQgetvalue(result, row, column)});
      }
    }
  } else {
    const char* sqlstate =
        result == nullptr ? nullptr : PQresultErrorField(result, PG_DIAG_SQLSTATE);
    reply.sqlstate = sqlstate != nullptr ? sqlstate : "(none)";
    const char* message =
        result == nullptr ? nullptr : PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY);
    reply.message = message != nullptr ? message : PQerrorMessage(conn_);
  }
  if (result != nullptr) PQclear(result);
  return reply;
}

}  // namespace idempotency::integration
