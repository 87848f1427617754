// Charge a card at most once per idempotency key, with libpq and the
// idempotency extension. The flow of every example in examples/ (see
// examples/README.md):
//
// 1. claim_or_lookup(scope, key, fingerprint => sha256 of the canonical
//    request), in its own committed transaction, BEFORE calling the provider;
// 2. claimed: call the provider; it may time out AFTER charging, so on a
//    timeout ask it whether the charge went through (by our reference);
// 3. record_outcome(scope, key, status, outcome, claim_token), so that every
//    retry can be answered with the first result;
// 4. not claimed: 'pending' -> the first attempt is in flight, wait and ask
//    again; 'succeeded'/'failed' -> replay the stored outcome.
//
// SQLSTATEs: IK001 -> reject (key reused for a different request); IK004 ->
// stop (another claim owns the key now); 40001, 40P01, 55P03 -> retry.
//
// Connections take the libpq environment (PGHOST, PGPORT, PGUSER, PGDATABASE).
#pragma once

#include <libpq-fe.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace payments {

// An error the server reported, with its SQLSTATE ("" for a lost connection).
class DbError : public std::runtime_error {
 public:
  DbError(std::string sqlstate, const std::string& message)
      : std::runtime_error(message), sqlstate_(std::move(sqlstate)) {}
  const std::string& sqlstate() const { return sqlstate_; }

 private:
  std::string sqlstate_;
};

// What to do about an error, by SQLSTATE.
enum class Action {
  kReject,  // IK001: the key was used before for a different request
  kStop,    // IK004: another claim took the key over; do not overwrite its result
  kRetry,   // 40001, 40P01, 55P03: transient, run the statement again
  kFail,    // anything else: a bug or an outage, let it propagate
};
Action classify(const std::string& sqlstate);

// A query result (owns the PGresult).
class Result {
 public:
  explicit Result(PGresult* result) : result_(result, &PQclear) {}
  int rows() const { return PQntuples(result_.get()); }
  bool is_null(int row, int column) const { return PQgetisnull(result_.get(), row, column) != 0; }
  std::string get(int row, int column) const { return PQgetvalue(result_.get(), row, column); }

 private:
  std::unique_ptr<PGresult, decltype(&PQclear)> result_;
};

using Parameter = std::optional<std::string>;  // nullopt is SQL NULL
using ConnectionOptions = std::vector<std::pair<std::string, std::string>>;

// One connection, in autocommit mode: every exec() is its own transaction
// unless the caller sends BEGIN. Only unnamed statements (PQexecParams), so it
// works behind a transaction-pooling pgbouncer as it is.
class Connection {
 public:
  // The libpq environment, plus options such as {"options", "-c lock_timeout=100ms"}.
  explicit Connection(const ConnectionOptions& options = {});
  Result exec(const std::string& sql, const std::vector<Parameter>& parameters = {});

 private:
  std::unique_ptr<PGconn, decltype(&PQfinish)> connection_;
};

struct Request {
  std::string customer;
  int amount = 0;
  std::string currency;
};

// The request as JSON with sorted keys and no white space: equal requests,
// equal text (and so equal sha256 fingerprints, in any language).
std::string canonical_json(const Request& request);
std::string json_string(const std::string& text);

struct Charge {
  long long charge_id = 0;
  std::string customer;
  int amount = 0;
};
std::string charge_json(const Charge& charge);

struct ProviderRefused : std::runtime_error {  // not reached: nothing was charged
  using std::runtime_error::runtime_error;
};
struct ProviderTimeout : std::runtime_error {  // no answer: it may or may not have charged
  using std::runtime_error::runtime_error;
};
struct CardDeclined : std::runtime_error {  // answered: declined, nothing charged
  using std::runtime_error::runtime_error;
};

struct ProviderSettings {
  unsigned seed = 0;
  int min_latency_ms = 40;
  int max_latency_ms = 80;
  double refuse = 0.1;
  double timeout_after_charge = 0.3;
  double timeout_before_charge = 0.05;
};

// The payment provider: a stub that charges into examples.ledger (every call
// charges, it does not deduplicate) and is flaky. Customers whose name starts
// with "declined" are always declined. Thread-safe.
class FlakyProvider {
 public:
  explicit FlakyProvider(ProviderSettings settings) : settings_(settings), random_(settings.seed) {}
  Charge charge(const std::string& reference, const std::string& customer, int amount);
  // The reconciliation call: what did the provider charge for this reference?
  std::optional<Charge> find_charge(const std::string& reference);

 private:
  ProviderSettings settings_;
  std::mutex mutex_;
  std::mt19937 random_;
};

// What the service answers one attempt. outcome is the recorded jsonb as text
// (PostgreSQL's normal form, so replies compare as strings).
struct Reply {
  std::string kind;  // charged, replayed, in_progress, rejected, superseded
  std::string status;
  std::string outcome;
  std::string error;
};

struct ServiceSettings {
  std::string scope = "payments";
  // Empty: strict at-most-once. Else an interval: a claim pending longer may
  // be taken over; the new owner asks the provider first whether the old one
  // charged, and the old one, if only slow, gets IK004 when it records.
  std::string lease;
  std::chrono::milliseconds pending_wait{10000};
  std::chrono::milliseconds poll_interval{20};
  ConnectionOptions connection_options;
  std::function<void(const std::string& key)> after_charge;  // test hook
};

class PaymentService {
 public:
  PaymentService(FlakyProvider& provider, ServiceSettings settings)
      : provider_(provider), settings_(std::move(settings)) {}
  // Charges the request at most once per key; thread-safe (a connection per call).
  Reply pay(const std::string& key, const Request& request);
  std::map<std::string, int> counts() const;

 private:
  struct Recorded {
    std::string status;
    std::string outcome;  // JSON
  };
  std::optional<Recorded> charge(const std::string& key, const Request& request);
  Result retrying(Connection& connection, const std::string& sql,
                  const std::vector<Parameter>& parameters);
  Reply record(Connection& connection, const std::string& key, const Recorded& recorded,
               const std::string& claim_token);
  bool release(Connection& connection, const std::string& key, const std::string& claim_token);
  Reply superseded(Connection& connection, const std::string& key);
  void count(const std::string& event);

  FlakyProvider& provider_;
  ServiceSettings settings_;
  mutable std::mutex counts_mutex_;
  std::map<std::string, int> counts_;
};

}  // namespace payments
