// Tests of payments.cpp against a running cluster (libpq environment).
// Prints TAP (`ok N - name` / `not ok N - name`, diagnostics as `# ...`) and
// exits non-zero if any check failed.
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <future>
#include <iostream>
#include <map>
#include <sstream>
#include <thread>

#include "payments.hpp"

using namespace payments;
using namespace std::chrono_literals;

namespace {

constexpr int kKeys = 20;
constexpr int kRounds[] = {1, 2, 2};  // the first send, then two rounds of two concurrent retries
constexpr double kResponseLoss = 0.5;
constexpr auto kClientTimeout = 30ms;  // shorter than the provider's latency
constexpr int kNetworkThreads = 32;    // attempts in flight at once (each holds a connection)
// How long an attempt waits for a pending first attempt: generous, so that a
// loaded machine does not turn a slow first attempt into a failed test.
constexpr auto kPendingWait = 60s;

struct CheckFailed : std::runtime_error {
  using std::runtime_error::runtime_error;
};

#define CHECK(condition, message)                                                          \
  do {                                                                                     \
    if (!(condition)) {                                                                    \
      std::ostringstream out_;                                                             \
      out_ << __FILE__ << ":" << __LINE__ << ": " << #condition << ": " << message;        \
      throw CheckFailed(out_.str());                                                       \
    }                                                                                      \
  } while (0)

// A fixed set of threads running submitted jobs: the "network" that carries attempts.
class ThreadPool {
 public:
  explicit ThreadPool(int threads) {
    for (int i = 0; i < threads; ++i) workers_.emplace_back([this] { work(); });
  }
  ~ThreadPool() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    for (std::thread& worker : workers_) worker.join();
  }
  template <typename F>
  std::shared_future<Reply> submit(F job) {
    auto task = std::make_shared<std::packaged_task<Reply()>>(std::move(job));
    std::shared_future<Reply> future = task->get_future().share();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      jobs_.emplace_back([task] { (*task)(); });
    }
    wake_.notify_one();
    return future;
  }

 private:
  void work() {
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
        if (jobs_.empty()) return;
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      job();
    }
  }
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> jobs_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

std::string random_hex(int bytes) {
  static std::mutex mutex;
  static std::mt19937_64 random(std::random_device{}());
  std::lock_guard<std::mutex> lock(mutex);
  std::string out;
  char digits[3];
  for (int i = 0; i < bytes; ++i) {
    std::snprintf(digits, sizeof digits, "%02x", static_cast<unsigned>(random() & 0xff));
    out += digits;
  }
  return out;
}

std::string new_scope(const std::string& name) { return "cpp-" + name + "-" + random_hex(4); }

// reference -> charge ids, for the keys of a scope.
std::map<std::string, std::vector<long long>> charges_by_key(const std::string& scope) {
  Connection connection;
  Result rows = connection.exec(
      "SELECT substr(reference, length($1) + 2), charge_id FROM examples.ledger"
      " WHERE reference LIKE $1 || '/%' ORDER BY charge_id",
      {scope});
  std::map<std::string, std::vector<long long>> charged;
  for (int row = 0; row < rows.rows(); ++row) {
    charged[rows.get(row, 0)].push_back(std::stoll(rows.get(row, 1)));
  }
  return charged;
}

std::map<std::string, Request> requests_for(int count, unsigned seed) {
  std::mt19937 random(seed);
  std::map<std::string, Request> requests;
  for (int number = 0; number < count; ++number) {
    std::string customer = number % 7 == 3 ? "declined-eve" : "customer-" + std::to_string(number);
    int amount = std::uniform_int_distribution<int>(100, 9999)(random);
    requests["order-" + std::to_string(number) + "-" + random_hex(8)] = Request{customer, amount, "EUR"};
  }
  return requests;
}

using PayFunction = std::function<Reply(const std::string&, const Request&)>;

// A client behind a network that loses responses: it retries, concurrently from
// the second round on, until an answer arrives. Returns every attempt sent.
std::vector<std::shared_future<Reply>> send(const PayFunction& pay, const std::string& key,
                                            const Request& request, unsigned seed,
                                            ThreadPool& network) {
  std::mt19937 random(seed);
  std::vector<std::shared_future<Reply>> attempts;
  for (int senders : kRounds) {
    std::optional<std::shared_future<Reply>> answered;
    for (int i = 0; i < senders; ++i) {
      std::shared_future<Reply> attempt = network.submit([&pay, key, request] { return pay(key, request); });
      attempts.push_back(attempt);
      bool lost = std::uniform_real_distribution<double>(0, 1)(random) < kResponseLoss;
      if (!lost && !answered) answered = attempt;
    }
    if (answered) {
      answered->wait();
      break;
    }
    std::this_thread::sleep_for(kClientTimeout);
  }
  return attempts;
}

// Every payment from its own client, all at once: key -> replies of its attempts.
std::map<std::string, std::vector<Reply>> run_clients(const PayFunction& pay,
                                                      const std::map<std::string, Request>& requests,
                                                      unsigned seed) {
  std::map<std::string, std::vector<std::shared_future<Reply>>> attempts;
  {
    ThreadPool network(kNetworkThreads);
    std::map<std::string, std::future<std::vector<std::shared_future<Reply>>>> clients;
    unsigned client = 0;
    for (const auto& [key, request] : requests) {
      clients[key] = std::async(std::launch::async, [&, key = key, request = request, client] {
        return send(pay, key, request, seed * 1000 + client, network);
      });
      ++client;
    }
    for (auto& [key, future] : clients) attempts[key] = future.get();
    for (auto& [key, futures] : attempts) {
      for (auto& future : futures) future.wait();
    }
  }
  std::map<std::string, std::vector<Reply>> replies;
  for (auto& [key, futures] : attempts) {
    for (auto& future : futures) replies[key].push_back(future.get());  // rethrows a failed attempt
  }
  return replies;
}

std::string describe(const std::map<std::string, int>& counts) {
  std::string out;
  for (const auto& [event, number] : counts) out += event + "=" + std::to_string(number) + " ";
  return out;
}

int count_of(const std::map<std::string, int>& counts, const std::string& event) {
  auto found = counts.find(event);
  return found == counts.end() ? 0 : found->second;
}

ProviderSettings reliable_provider() {
  ProviderSettings settings;
  settings.refuse = settings.timeout_after_charge = settings.timeout_before_charge = 0;
  return settings;
}

// --- The tests --------------------------------------------------------------

void test_classify() {
  CHECK(classify("IK001") == Action::kReject, "");
  CHECK(classify("IK004") == Action::kStop, "");
  for (const char* code : {"40001", "40P01", "55P03"}) CHECK(classify(code) == Action::kRetry, code);
  for (const char* code : {"IK002", "IK003", "22023", "25006", "42501", ""}) {
    CHECK(classify(code) == Action::kFail, code);
  }
  CHECK(canonical_json(Request{"a\"b", 5, "EUR"}) ==
            "{\"amount\":5,\"currency\":\"EUR\",\"customer\":\"a\\\"b\"}",
        canonical_json(Request{"a\"b", 5, "EUR"}));
}

// The same request gives the same fingerprint in every example (python, node,
// cpp, psql, http): sha256 of the JSON with sorted keys, no white space, UTF-8.
// Here it is computed by the server, in the claim statement.
void test_fingerprint() {
  Connection connection;
  Result digest = connection.exec("SELECT encode(sha256(convert_to($1, 'UTF8')), 'hex')",
                                  {canonical_json(Request{"Zo\u00eb \"Z\" \u00dcnal\n\x01", 1250, "EUR"})});
  CHECK(digest.get(0, 0) == "fee932217ae4fd82a30094ed5970309d51b0aa22f09f13d9a8ad03007f242730", digest.get(0, 0));
}

void test_unguarded_run_double_charges() {
  std::string scope = new_scope("unguarded");
  ProviderSettings settings;
  settings.seed = 1;
  FlakyProvider provider(settings);
  PayFunction pay_blindly = [&](const std::string& key, const Request& request) {
    for (int attempt = 0; attempt < 20; ++attempt) {
      try {
        Charge charge = provider.charge(scope + "/" + key, request.customer, request.amount);
        return Reply{"charged", "succeeded", charge_json(charge), ""};
      } catch (const CardDeclined&) {
        return Reply{"charged", "failed", "", ""};
      } catch (const ProviderRefused&) {
      } catch (const ProviderTimeout&) {
      }
    }
    throw std::runtime_error("provider unreachable");
  };
  run_clients(pay_blindly, requests_for(kKeys, 1), 1);
  int twice = 0;
  for (const auto& [key, ids] : charges_by_key(scope)) twice += ids.size() > 1;
  std::cout << "# unguarded: " << twice << " keys charged more than once" << std::endl;
  CHECK(twice > 0, "no key was charged twice without the guard: the scenario proves nothing");
}

void test_guarded_run_charges_once() {
  std::string scope = new_scope("guarded");
  ProviderSettings provider_settings;
  provider_settings.seed = 2;
  FlakyProvider provider(provider_settings);
  ServiceSettings settings;
  settings.scope = scope;
  settings.pending_wait = kPendingWait;
  PaymentService service(provider, settings);
  auto requests = requests_for(kKeys, 2);
  auto replies = run_clients(
      [&](const std::string& key, const Request& request) { return service.pay(key, request); },
      requests, 2);
  auto charged = charges_by_key(scope);
  std::size_t attempts = 0;
  for (const auto& [key, list] : replies) attempts += list.size();
  std::cout << "# guarded: " << attempts << " attempts for " << kKeys << " keys; events "
            << describe(service.counts()) << std::endl;
  CHECK(attempts > static_cast<std::size_t>(kKeys), "no retries were sent");
  Connection connection;
  for (const auto& [key, request] : requests) {
    bool declined = request.customer.rfind("declined", 0) == 0;
    const std::vector<long long>& ids = charged[key];
    CHECK(ids.size() == (declined ? 0u : 1u), key << " charged " << ids.size() << " times");
    int firsts = 0;
    const Reply* first = nullptr;
    for (const Reply& reply : replies[key]) {
      CHECK(reply.kind == "charged" || reply.kind == "replayed", key << ": reply " << reply.kind);
      if (reply.kind == "charged") {
        ++firsts;
        first = &reply;
      }
    }
    CHECK(firsts == 1, key << ": " << firsts << " attempts charged");
    for (const Reply& reply : replies[key]) {
      CHECK(reply.status == first->status && reply.outcome == first->outcome,
            key << ": " << reply.outcome << " differs from the first reply " << first->outcome);
    }
    if (declined) {
      CHECK(first->status == "failed" && first->outcome.find("card_declined") != std::string::npos,
            first->outcome);
    } else {
      std::string id = "\"charge_id\": " + std::to_string(ids[0]);
      CHECK(first->status == "succeeded" && (first->outcome.find(id + ",") != std::string::npos ||
                                             first->outcome.find(id + "}") != std::string::npos),
            first->outcome);
    }
    Result stored = connection.exec("SELECT status, outcome FROM idempotency.lookup($1, $2)", {scope, key});
    CHECK(stored.rows() == 1 && stored.get(0, 0) == first->status && stored.get(0, 1) == first->outcome,
          key << ": stored " << (stored.rows() ? stored.get(0, 1) : "nothing"));
  }
  auto counts = service.counts();
  for (const char* event : {"pending", "timeout", "reconciled", "recorded"}) {
    CHECK(count_of(counts, event) > 0, "no " << event << " event: " << describe(counts));
  }
}

void test_key_reused_for_another_request() {
  std::string scope = new_scope("reuse");
  FlakyProvider provider(reliable_provider());
  ServiceSettings settings;
  settings.scope = scope;
  PaymentService service(provider, settings);
  std::string key = random_hex(16);
  Reply first = service.pay(key, Request{"ann", 500, "EUR"});
  CHECK(first.kind == "charged", first.kind);
  Reply again = service.pay(key, Request{"ann", 500, "EUR"});
  CHECK(again.kind == "replayed" && again.outcome == first.outcome, again.kind << " " << again.outcome);
  Reply other = service.pay(key, Request{"ann", 5000, "EUR"});
  CHECK(other.kind == "rejected" && other.error.find("different request") != std::string::npos, other.kind);
  CHECK(count_of(service.counts(), "IK001") == 1, describe(service.counts()));
  CHECK(charges_by_key(scope)[key].size() == 1, "");
}

void test_stale_owner_stops_on_ik004() {
  std::string scope = new_scope("stale");
  FlakyProvider provider(reliable_provider());
  std::promise<void> charged;
  ServiceSettings old_settings;
  old_settings.scope = scope;
  old_settings.lease = "300 milliseconds";
  old_settings.after_charge = [&](const std::string&) {
    charged.set_value();
    std::this_thread::sleep_for(3000ms);  // a long pause before recording
  };
  ServiceSettings new_settings = old_settings;
  new_settings.after_charge = nullptr;
  PaymentService old_owner(provider, old_settings);
  PaymentService new_owner(provider, new_settings);
  std::string key = random_hex(16);
  Request request{"bob", 700, "EUR"};
  std::future<void> stalled = charged.get_future();
  std::future<Reply> old_reply = std::async(std::launch::async, [&] { return old_owner.pay(key, request); });
  CHECK(stalled.wait_for(5s) == std::future_status::ready, "the first owner never charged");
  std::this_thread::sleep_for(500ms);  // past the lease
  Reply new_reply = new_owner.pay(key, request);
  Reply old = old_reply.get();
  CHECK(new_reply.kind == "charged" && count_of(new_owner.counts(), "reconciled") == 1,
        new_reply.kind << " " << describe(new_owner.counts()));
  CHECK(old.kind == "superseded" && count_of(old_owner.counts(), "IK004") == 1,
        old.kind << " " << describe(old_owner.counts()));
  CHECK(old.outcome == new_reply.outcome, old.outcome << " vs " << new_reply.outcome);
  CHECK(charges_by_key(scope)[key].size() == 1, "");
}

// Another session claims the key in an open transaction (recording `outcome`
// in it), holds it, then commits or rolls back.
std::future<void> blocking_claim(const std::string& scope, const std::string& key, const Request& request,
                                 std::chrono::milliseconds hold, const std::string& outcome, bool commit) {
  auto connection = std::make_shared<Connection>();
  connection->exec("BEGIN");
  connection->exec(
      "SELECT claim_token FROM idempotency.claim_or_lookup($1, $2, fingerprint =>"
      " encode(sha256(convert_to($3, 'UTF8')), 'hex'))",
      {scope, key, canonical_json(request)});
  if (!outcome.empty()) {
    connection->exec("SELECT idempotency.record_outcome($1, $2, 'succeeded', $3)", {scope, key, outcome});
  }
  return std::async(std::launch::async, [connection, hold, commit] {
    std::this_thread::sleep_for(hold);
    connection->exec(commit ? "COMMIT" : "ROLLBACK");
  });
}

void test_lock_timeout_is_retried() {
  std::string scope = new_scope("locked");
  FlakyProvider provider(reliable_provider());
  ServiceSettings settings;
  settings.scope = scope;
  settings.connection_options = {{"options", "-c lock_timeout=100ms"}};
  PaymentService service(provider, settings);
  std::string key = random_hex(16);
  Request request{"cal", 900, "EUR"};
  std::future<void> blocker = blocking_claim(scope, key, request, 2000ms, "", false);
  Reply reply = service.pay(key, request);
  blocker.get();
  CHECK(count_of(service.counts(), "55P03") >= 1, describe(service.counts()));
  CHECK(reply.kind == "charged", reply.kind);
  CHECK(charges_by_key(scope)[key].size() == 1, "");
}

void test_serialization_failure_is_retried() {
  std::string scope = new_scope("serial");
  FlakyProvider provider(reliable_provider());
  ServiceSettings settings;
  settings.scope = scope;
  settings.connection_options = {{"options", "-c default_transaction_isolation=repeatable\\ read"}};
  PaymentService service(provider, settings);
  std::string key = random_hex(16);
  Request request{"dan", 1100, "EUR"};
  std::future<void> blocker =
      blocking_claim(scope, key, request, 2000ms, R"({"charge_id": -1, "note": "charged by the other session"})", true);
  Reply reply = service.pay(key, request);
  blocker.get();
  CHECK(count_of(service.counts(), "40001") >= 1, describe(service.counts()));
  CHECK(reply.kind == "replayed" && reply.outcome == R"({"note": "charged by the other session", "charge_id": -1})",
        reply.kind << " " << reply.outcome);
  CHECK(charges_by_key(scope).count(key) == 0, "");
}

}  // namespace

int main() {
  int number = 0;
  int failed = 0;
  auto check = [&](const std::string& name, void (*body)()) {
    ++number;
    try {
      body();
      std::cout << "ok " << number << " - " << name << std::endl;
    } catch (const std::exception& error) {
      ++failed;
      std::cout << "not ok " << number << " - " << name << std::endl;
      std::istringstream lines(error.what());
      for (std::string line; std::getline(lines, line);) std::cout << "# " << line << std::endl;
    }
  };
  check("classify: SQLSTATE to behaviour", test_classify);
  check("fingerprint: sha256 of the canonical request, as in the other examples", test_fingerprint);
  check("control: without the guard, retries charge twice (the check can fail)",
        test_unguarded_run_double_charges);
  check(std::to_string(kKeys) + " keys x up to 5 concurrent attempts: one charge per key, every reply the first",
        test_guarded_run_charges_once);
  check("IK001: a key reused for a different request is rejected, nothing charged",
        test_key_reused_for_another_request);
  check("IK004: a stale owner stops, the new owner's outcome stands, one charge", test_stale_owner_stops_on_ik004);
  check("55P03: a claim blocked past lock_timeout is retried, then charges once", test_lock_timeout_is_retried);
  check("40001: a REPEATABLE READ claim that lost the race is retried and replays",
        test_serialization_failure_is_retried);
  std::cout << "1.." << number << std::endl;
  return failed == 0 ? 0 : 1;
}
