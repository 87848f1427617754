#include "payments.hpp"

#include <algorithm>
#include <cstdio>
#include <thread>

namespace payments {

Action classify(const std::string& sqlstate) {
  if (sqlstate == "IK001") return Action::kReject;
  if (sqlstate == "IK004") return Action::kStop;
  if (sqlstate == "40001" || sqlstate == "40P01" || sqlstate == "55P03") return Action::kRetry;
  return Action::kFail;
}

// --- Connection -------------------------------------------------------------

Connection::Connection(const ConnectionOptions& options) : connection_(nullptr, &PQfinish) {
  std::vector<const char*> keywords;
  std::vector<const char*> values;
  for (const auto& [keyword, value] : options) {
    keywords.push_back(keyword.c_str());
    values.push_back(value.c_str());
  }
  keywords.push_back(nullptr);
  values.push_back(nullptr);
  // Keywords not given come from the environment (PGHOST, PGPORT, PGUSER, PGDATABASE).
  connection_.reset(PQconnectdbParams(keywords.data(), values.data(), 0));
  if (PQstatus(connection_.get()) != CONNECTION_OK) {
    throw DbError("", std::string("connection failed: ") + PQerrorMessage(connection_.get()));
  }
}

Result Connection::exec(const std::string& sql, const std::vector<Parameter>& parameters) {
  std::vector<const char*> values;
  values.reserve(parameters.size());
  for (const Parameter& parameter : parameters) {
    values.push_back(parameter ? parameter->c_str() : nullptr);
  }
  PGresult* raw = PQexecParams(connection_.get(), sql.c_str(), static_cast<int>(values.size()),
                               nullptr, values.data(), nullptr, nullptr, 0);
  Result result(raw);
  ExecStatusType status = PQresultStatus(raw);
  if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
    const char* sqlstate = PQresultErrorField(raw, PG_DIAG_SQLSTATE);
    throw DbError(sqlstate ? sqlstate : "", PQerrorMessage(connection_.get()));
  }
  return result;
}

// --- JSON -------------------------------------------------------------------

std::string json_string(const std::string& text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20) {
          char escaped[8];
          std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
          out += escaped;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

std::string canonical_json(const Request& request) {
  // Keys in sorted order: amount, currency, customer.
  return "{\"amount\":" + std::to_string(request.amount) +
         ",\"currency\":" + json_string(request.currency) +
         ",\"customer\":" + json_string(request.customer) + "}";
}

std::string charge_json(const Charge& charge) {
  return "{\"charge_id\":" + std::to_string(charge.charge_id) +
         ",\"customer\":" + json_string(charge.customer) +
         ",\"amount\":" + std::to_string(charge.amount) + "}";
}

// --- The provider -----------------------------------------------------------

Charge FlakyProvider::charge(const std::string& reference, const std::string& customer,
                             int amount) {
  double draw = 0;
  int latency_ms = 0;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    draw = std::uniform_real_distribution<double>(0, 1)(random_);
    latency_ms = std::uniform_int_distribution<int>(settings_.min_latency_ms,
                                                    settings_.max_latency_ms)(random_);
  }
  if (draw < settings_.refuse) throw ProviderRefused("connection refused");
  std::this_thread::sleep_for(std::chrono::milliseconds(latency_ms));
  if (customer.rfind("declined", 0) == 0) throw CardDeclined(customer);
  if (draw < settings_.refuse + settings_.timeout_before_charge) {
    throw ProviderTimeout("request lost before the provider saw it");
  }
  Connection connection;
  Result inserted = connection.exec(
      "INSERT INTO examples.ledger (reference, customer, amount) VALUES ($1, $2, $3)"
      " RETURNING charge_id",
      {reference, customer, std::to_string(amount)});
  if (draw < settings_.refuse + settings_.timeout_before_charge + settings_.timeout_after_charge) {
    throw ProviderTimeout("charged, but the answer was lost");
  }
  return Charge{std::stoll(inserted.get(0, 0)), customer, amount};
}

std::optional<Charge> FlakyProvider::find_charge(const std::string& reference) {
  Connection connection;
  Result found = connection.exec(
      "SELECT charge_id, customer, amount FROM examples.ledger WHERE reference = $1"
      " ORDER BY charge_id LIMIT 1",
      {reference});
  if (found.rows() == 0) return std::nullopt;
  return Charge{std::stoll(found.get(0, 0)), found.get(0, 1), std::stoi(found.get(0, 2))};
}

// --- The payment service ------------------------------------------------------

namespace {

void backoff_sleep(int attempt) {
  static thread_local std::mt19937 random(std::random_device{}());
  int limit_ms = std::min(10 << std::min(attempt, 10), 200);
  std::this_thread::sleep_for(
      std::chrono::milliseconds(std::uniform_int_distribution<int>(0, limit_ms)(random)));
}

}  // namespace

void PaymentService::count(const std::string& event) {
  std::lock_guard<std::mutex> lock(counts_mutex_);
  ++counts_[event];
}

std::map<std::string, int> PaymentService::counts() const {
  std::lock_guard<std::mutex> lock(counts_mutex_);
  return counts_;
}

Reply PaymentService::pay(const std::string& key, const Request& request) {
  auto deadline = std::chrono::steady_clock::now() + settings_.pending_wait;
  Connection connection(settings_.connection_options);
  Parameter lease;
  if (!settings_.lease.empty()) lease = settings_.lease;
  for (int attempt = 0;; ++attempt) {
    std::optional<Result> claim;
    try {
      // The fingerprint is computed in the same statement: sha256 of the
      // canonical request, in hex (what the other examples compute client-side).
      claim = connection.exec(
          "SELECT claimed, claim_token, status, outcome FROM idempotency.claim_or_lookup("
          "$1, $2, fingerprint => pg_catalog.encode(pg_catalog.sha256("
          "pg_catalog.convert_to($3, 'UTF8')), 'hex'), lease => $4::interval)",
          {settings_.scope, key, canonical_json(request), lease});
    } catch (const DbError& error) {
      Action action = classify(error.sqlstate());
      if (action == Action::kReject) {
        count("IK001");
        return Reply{"rejected", "", "", "key reused for a different request"};
      }
      if (action != Action::kRetry) throw;
      count(error.sqlstate());
      backoff_sleep(attempt);
      continue;
    }
    bool claimed = claim->get(0, 0) == "t";
    std::string status = claim->get(0, 2);
    if (!claimed) {
      if (status != "pending") return Reply{"replayed", status, claim->get(0, 3), ""};
      // The first attempt is still in flight: wait for its outcome.
      count("pending");
      if (std::chrono::steady_clock::now() > deadline) return Reply{"in_progress", status, "", ""};
      std::this_thread::sleep_for(settings_.poll_interval);
      continue;
    }
    count("claimed");
    std::string claim_token = claim->get(0, 1);
    std::optional<Recorded> recorded = charge(key, request);
    if (!recorded) {
      // Known not charged: give the key back, then claim again.
      if (!release(connection, key, claim_token)) return superseded(connection, key);
      continue;
    }
    return record(connection, key, *recorded, claim_token);
  }
}

std::optional<PaymentService::Recorded> PaymentService::charge(const std::string& key,
                                                               const Request& request) {
  std::string reference = settings_.scope + "/" + key;
  if (!settings_.lease.empty()) {
    // This claim may have taken over from an owner presumed dead that did
    // charge: ask before charging again.
    if (std::optional<Charge> earlier = provider_.find_charge(reference)) {
      count("reconciled");
      return Recorded{"succeeded", charge_json(*earlier)};
    }
  }
  Charge charged;
  try {
    charged = provider_.charge(reference, request.customer, request.amount);
  } catch (const CardDeclined&) {
    return Recorded{"failed",
                    "{\"error\":\"card_declined\",\"customer\":" + json_string(request.customer) + "}"};
  } catch (const ProviderRefused&) {
    count("refused");
    return std::nullopt;
  } catch (const ProviderTimeout&) {
    // The charge may have gone through: ask, never charge blindly again.
    count("timeout");
    std::optional<Charge> found = provider_.find_charge(reference);
    if (!found) return std::nullopt;
    count("reconciled");
    charged = *found;
  }
  if (settings_.after_charge) settings_.after_charge(key);
  return Recorded{"succeeded", charge_json(charged)};
}

Result PaymentService::retrying(Connection& connection, const std::string& sql,
                                const std::vector<Parameter>& parameters) {
  for (int attempt = 0;; ++attempt) {
    try {
      return connection.exec(sql, parameters);
    } catch (const DbError& error) {
      if (classify(error.sqlstate()) != Action::kRetry || attempt >= 50) throw;
      count(error.sqlstate());
      backoff_sleep(attempt);
    }
  }
}

Reply PaymentService::record(Connection& connection, const std::string& key,
                             const Recorded& recorded, const std::string& claim_token) {
  try {
    // Also returns the outcome in jsonb's normal form, as replays will see it.
    Result result = retrying(connection,
                             "SELECT idempotency.record_outcome($1, $2, $3, $4::jsonb, $5),"
                             " $4::jsonb::text",
                             {settings_.scope, key, recorded.status, recorded.outcome, claim_token});
    count("recorded");
    return Reply{"charged", recorded.status, result.get(0, 1), ""};
  } catch (const DbError& error) {
    if (classify(error.sqlstate()) != Action::kStop) throw;
    return superseded(connection, key);
  }
}

bool PaymentService::release(Connection& connection, const std::string& key,
                             const std::string& claim_token) {
  try {
    retrying(connection, "SELECT idempotency.release_guard($1, $2, $3)",
             {settings_.scope, key, claim_token});
    return true;
  } catch (const DbError& error) {
    if (classify(error.sqlstate()) != Action::kStop) throw;
    return false;
  }
}

// IK004: a later claim owns the key. Stop, and answer with what it recorded.
Reply PaymentService::superseded(Connection& connection, const std::string& key) {
  count("IK004");
  Result stored = connection.exec("SELECT status, outcome FROM idempotency.lookup($1, $2)",
                                  {settings_.scope, key});
  if (stored.rows() == 0 || stored.get(0, 0) == "pending") return Reply{"in_progress", "pending", "", ""};
  return Reply{"superseded", stored.get(0, 0), stored.get(0, 1), ""};
}

}  // namespace payments
