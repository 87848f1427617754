// Multi-threaded stress tests of the claim API against a running server.
//
// 16 connections (one per thread) claim the keys of a fresh scope. Every key
// is claimed by 3 or 4 threads, in a per-thread random order arranged so that
// the threads sweep the key space together (claims of one key really overlap),
// and any claim may be repeated after a random short delay. At the end the
// clients' view (exactly one committed true per key) is checked against
// idempotency.guards.
//
// Figures, per test: 16 connections, 10,000 keys, 3-4 claimers per key (about
// 35,000 first claims), plus voluntary retries of 25% of the calls and the
// retries that errors, rollbacks and pending guards force: about 45,000-50,000
// claim calls. On 2 cores the four tests take 30-45 s in all (each prints a
// "[stress]" line with its figures).
// IDEMPOTENCY_STRESS_SEED=<n> replays a run's random choices (not its timing).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <iomanip>
#include <iostream>
#include <memory>
#include <numeric>
#include <optional>
#include <queue>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <unistd.h>

#include "pg_client.hpp"

namespace idempotency::integration {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::microseconds;

constexpr int kConnections = 16;
constexpr int kKeys = 10000;
constexpr int kMinClaimers = 3;
constexpr int kMaxClaimers = 4;
// Claimers of a key reach it within this many keys of each other.
constexpr double kSweepJitter = 48;
constexpr double kRetryProbability = 0.25;
constexpr int kMaxRetryDelayUs = 3000;
constexpr const char* kLockNotAvailable = "55P03";
constexpr const char* kSerializationFailure = "40001";

std::uint64_t run_seed() {
  static const std::uint64_t seed = []() -> std::uint64_t {
    const char* configured = std::getenv("IDEMPOTENCY_STRESS_SEED");
    if (configured != nullptr && *configured != '\0') return std::stoull(configured);
    return (static_cast<std::uint64_t>(std::random_device{}()) << 32) ^ std::random_device{}();
  }();
  return seed;
}

std::string key_name(int key) {
  std::ostringstream name;
  name << 'k' << std::setw(5) << std::setfill('0') << key;
  return name.str();
}

int key_number(const std::string& name) { return std::stoi(name.substr(1)); }

// A scope no earlier run used.
std::string fresh_scope(const std::string& test) {
  auto now = std::chrono::system_clock::now().time_since_epoch();
  return "stress-" + test + "-" + std::to_string(getpid()) + "-" +
         std::to_string(std::chrono::duration_cast<std::chrono::microseconds>(now).count());
}

class Random {
 public:
  explicit Random(std::uint64_t seed) : engine_(seed) {}
  bool chance(double probability) {
    return std::uniform_real_distribution<double>(0, 1)(engine_) < probability;
  }
  int between(int low, int high) { return std::uniform_int_distribution<int>(low, high)(engine_); }
  double real(double low, double high) {
    return std::uniform_real_distribution<double>(low, high)(engine_);
  }
  std::mt19937_64& engine() { return engine_; }

 private:
  std::mt19937_64 engine_;
};

// For each thread, the keys it claims, in the order it claims them. Each key
// goes to 3-4 distinct threads; every thread orders its keys by their place in
// one global random order plus a little jitter, so the claimers of a key get
// to it at about the same time.
std::vector<std::vector<int>> assign_keys(int keys, Random& random) {
  std::vector<int> order(static_cast<std::size_t>(keys));
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), random.engine());
  std::vector<std::vector<std::pair<double, int>>> placed(kConnections);
  std::vector<int> threads(kConnections);
  std::iota(threads.begin(), threads.end(), 0);
  for (int position = 0; position < keys; ++position) {
    std::shuffle(threads.begin(), threads.end(), random.engine());
    int claimers = random.between(kMinClaimers, kMaxClaimers);
    for (int i = 0; i < claimers; ++i) {
      placed[threads[i]].emplace_back(position + random.real(0, kSweepJitter), order[position]);
    }
  }
  std::vector<std::vector<int>> assigned(kConnections);
  for (int thread = 0; thread < kConnections; ++thread) {
    std::sort(placed[thread].begin(), placed[thread].end());
    for (const auto& entry : placed[thread]) assigned[thread].push_back(entry.second);
  }
  return assigned;
}

// A thread's keys in order, plus the keys it will claim again once their
// random delay has passed.
class WorkQueue {
 public:
  explicit WorkQueue(std::vector<int> keys) : keys_(std::move(keys)) {}

  // The next key to claim, or nullopt when there is none left.
  std::optional<int> next() {
    if (!retries_.empty() && retries_.top().first <= Clock::now()) return pop_retry();
    if (next_ < keys_.size()) return keys_[next_++];
    if (retries_.empty()) return std::nullopt;
    std::this_thread::sleep_until(retries_.top().first);
    return pop_retry();
  }

  void retry_later(int key, Random& random) {
    retries_.emplace(Clock::now() + microseconds(random.between(0, kMaxRetryDelayUs)), key);
  }

 private:
  int pop_retry() {
    int key = retries_.top().second;
    retries_.pop();
    return key;
  }

  using Retry = std::pair<Clock::time_point, int>;
  std::vector<int> keys_;
  std::size_t next_ = 0;
  std::priority_queue<Retry, std::vector<Retry>, std::greater<Retry>> retries_;
};

// A seed per thread, drawn before the threads start.
std::vector<std::uint64_t> thread_seeds(Random& planner) {
  std::vector<std::uint64_t> seeds;
  for (int thread = 0; thread < kConnections; ++thread) seeds.push_back(planner.engine()());
  return seeds;
}

// Runs body(thread, connection) on kConnections threads, each with its own
// connection, all starting together once every connection is up. Returns the
// errors of connections that could not be set up.
std::vector<std::string> run_threads(const std::vector<std::string>& session_setup,
                                     const std::function<void(int, Connection&)>& body) {
  std::atomic<int> ready{0};
  std::vector<std::string> setup_errors(kConnections);
  std::vector<std::thread> threads;
  for (int thread = 0; thread < kConnections; ++thread) {
    threads.emplace_back([&, thread] {
      Connection connection("idempotency_stress_" + std::to_string(thread));
      if (!connection.connected()) {
        setup_errors[thread] = "connection " + std::to_string(thread) + ": " + connection.error();
      }
      for (const std::string& statement : session_setup) {
        if (!setup_errors[thread].empty()) break;
        Reply reply = connection.exec(statement);
        if (!reply.ok) setup_errors[thread] = statement + ": " + reply.error();
      }
      ready.fetch_add(1);
      while (ready.load() < kConnections) std::this_thread::yield();
      if (setup_errors[thread].empty()) body(thread, connection);
    });
  }
  for (std::thread& thread : threads) thread.join();
  std::vector<std::string> errors;
  for (const std::string& error : setup_errors) {
    if (!error.empty()) errors.push_back(error);
  }
  return errors;
}

// One claim call as its client saw it (calls that raised are only counted).
struct ClaimCall {
  int key = 0;
  int thread = 0;
  Clock::time_point start;
  Clock::time_point end;
  bool claimed = false;                     // the call returned true
  bool committed = false;                   // and its transaction committed (false: rolled back)
  std::optional<std::int64_t> claim_token;  // known when claimed through claim_or_lookup
};

struct Tally {
  long claims = 0;  // claim calls made, including those that raised
  long trues = 0;   // committed trues
  long rolled_back_trues = 0;
  long falses = 0;
  long lock_timeouts = 0;
  long serialization_failures = 0;
  long rollbacks = 0;  // transactions rolled back on purpose
  long voluntary_retries = 0;
  long pending_seen = 0;  // replay test: the winner had not recorded yet
  long replays = 0;
  long repeated_records = 0;
  std::vector<ClaimCall> calls;
  std::vector<std::string> errors;  // anything unexpected

  void add(Tally&& other) {
    claims += other.claims;
    trues += other.trues;
    rolled_back_trues += other.rolled_back_trues;
    falses += other.falses;
    lock_timeouts += other.lock_timeouts;
    serialization_failures += other.serialization_failures;
    rollbacks += other.rollbacks;
    voluntary_retries += other.voluntary_retries;
    pending_seen += other.pending_seen;
    replays += other.replays;
    repeated_records += other.repeated_records;
    calls.insert(calls.end(), other.calls.begin(), other.calls.end());
    errors.insert(errors.end(), other.errors.begin(), other.errors.end());
  }
};

// Keys on which calls of two threads overlapped in time.
long raced_keys(const std::vector<ClaimCall>& calls, int keys) {
  std::vector<std::vector<const ClaimCall*>> by_key(static_cast<std::size_t>(keys));
  for (const ClaimCall& call : calls) by_key[call.key].push_back(&call);
  long raced = 0;
  for (auto& key_calls : by_key) {
    std::sort(key_calls.begin(), key_calls.end(),
              [](const ClaimCall* a, const ClaimCall* b) { return a->start < b->start; });
    Clock::time_point latest_end{};
    for (std::size_t i = 0; i < key_calls.size(); ++i) {
      if (i > 0 && key_calls[i]->start < latest_end) {
        ++raced;
        break;
      }
      latest_end = std::max(latest_end, key_calls[i]->end);
    }
  }
  return raced;
}

// Up to a few examples for a failure message.
class Examples {
 public:
  void add(const std::string& example) {
    if (++count_ <= 5) text_ += "\n  " + example;
  }
  long count() const { return count_; }
  std::string text() const { return text_; }

 private:
  long count_ = 0;
  std::string text_;
};

class StressTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string missing = missing_server_environment();
    ASSERT_TRUE(missing.empty()) << missing;
    admin_ = std::make_unique<Connection>("idempotency_stress_admin");
    ASSERT_TRUE(admin_->connected()) << "cannot connect: " << admin_->error();
    Reply extension = admin_->exec("CREATE EXTENSION IF NOT EXISTS idempotency");
    ASSERT_TRUE(extension.ok) << extension.error();
    std::cout << "[stress] seed " << run_seed() << " (IDEMPOTENCY_STRESS_SEED)" << std::endl;
  }

  void TearDown() override {
    // Failed runs keep their rows for inspection (the scope is fresh per run).
    if (admin_ && admin_->connected() && !scope_.empty() && !HasFailure()) {
      admin_->exec("DELETE FROM idempotency.guards WHERE scope = $1", {scope_});
    }
  }

  std::unique_ptr<Connection> admin_;
  std::string scope_;
};

struct ClaimOptions {
  std::string name;
  int keys = kKeys;
  std::vector<std::string> session_setup;
  double transaction_probability = 0;  // BEGIN; claim; COMMIT/ROLLBACK rather than autocommit
  int max_hold_us = 0;                 // an open transaction holds its claim up to this long
  double rollback_probability = 0;     // ROLLBACK rather than COMMIT
};

const char* const kClaimGuard = "SELECT idempotency.claim_guard($1, $2)";
const char* const kClaimOrLookup =
    "SELECT claimed, claim_token, status, outcome FROM idempotency.claim_or_lookup($1, $2)";

// Claims options.keys keys from 16 threads as described at the top, and
// checks the clients' view and the table. Returns the merged tally.
Tally run_claim_stress(Connection& admin, const std::string& scope, const ClaimOptions& options) {
  Random planner(run_seed() ^ std::hash<std::string>{}(options.name));
  std::vector<std::vector<int>> assigned = assign_keys(options.keys, planner);
  std::vector<std::uint64_t> seeds = thread_seeds(planner);
  std::vector<Tally> tallies(kConnections);
  Clock::time_point started = Clock::now();

  std::vector<std::string> setup_errors =
      run_threads(options.session_setup, [&](int thread, Connection& db) {
        Tally& tally = tallies[thread];
        Random random(seeds[thread]);
        WorkQueue work(assigned[thread]);
        auto fail = [&](const std::string& what, const Reply& reply) {
          tally.errors.push_back("thread " + std::to_string(thread) + ": " + what + ": " +
                                 reply.error());
        };
        while (std::optional<int> key = work.next()) {
          bool use_lookup = random.chance(0.5);
          bool in_transaction = random.chance(options.transaction_probability);
          ClaimCall call;
          call.key = *key;
          call.thread = thread;
          call.start = Clock::now();
          if (in_transaction) {
            Reply begin = db.exec("BEGIN");
            if (!begin.ok) return fail("BEGIN", begin);
          }
          ++tally.claims;
          Reply reply = db.exec(use_lookup ? kClaimOrLookup : kClaimGuard, {scope, key_name(*key)});
          if (!reply.ok) {
            if (in_transaction) db.exec("ROLLBACK");
            if (reply.sqlstate == kLockNotAvailable) {
              ++tally.lock_timeouts;
            } else if (reply.sqlstate == kSerializationFailure) {
              ++tally.serialization_failures;
            } else {
              return fail("claim of " + key_name(*key), reply);
            }
            work.retry_later(*key, random);  // a failed call is retried
            continue;
          }
          call.claimed = reply.at(0, 0) == Value{"t"};
          if (use_lookup && call.claimed) {
            Value token = reply.at(0, 1);
            if (!token) return fail("claim_or_lookup returned no token", reply);
            call.claim_token = std::stoll(*token);
          }
          if (use_lookup && reply.at(0, 2) != Value{"pending"}) {
            return fail("claim_or_lookup status " + reply.at(0, 2).value_or("NULL"), reply);
          }
          call.committed = true;
          if (in_transaction) {
            if (options.max_hold_us > 0) {
              std::this_thread::sleep_for(microseconds(random.between(0, options.max_hold_us)));
            }
            call.committed = !random.chance(options.rollback_probability);
            Reply end = db.exec(call.committed ? "COMMIT" : "ROLLBACK");
            if (!end.ok) return fail(call.committed ? "COMMIT" : "ROLLBACK", end);
            if (!call.committed) ++tally.rollbacks;
          }
          call.end = Clock::now();
          tally.calls.push_back(call);
          if (call.claimed && call.committed) ++tally.trues;
          if (call.claimed && !call.committed) ++tally.rolled_back_trues;
          if (!call.claimed) ++tally.falses;
          if (call.claimed && !call.committed) {
            work.retry_later(*key, random);  // rolled back our win: the key must be claimed again
          } else if (random.chance(kRetryProbability)) {
            ++tally.voluntary_retries;
            work.retry_later(*key, random);
          }
        }
      });
  double seconds = std::chrono::duration<double>(Clock::now() - started).count();

  Tally total;
  for (Tally& tally : tallies) total.add(std::move(tally));
  for (const std::string& error : setup_errors) total.errors.push_back(error);

  std::cout << "[stress] " << options.name << ": " << kConnections << " connections, "
            << options.keys << " keys, " << total.claims << " claims attempted, " << total.trues
            << " committed trues, " << total.falses << " falses, " << total.rolled_back_trues
            << " rolled-back trues, " << total.rollbacks << " rollbacks, " << total.lock_timeouts
            << " lock timeouts, " << total.serialization_failures << " serialization failures, "
            << total.voluntary_retries << " voluntary retries, "
            << raced_keys(total.calls, options.keys) << " keys with overlapping claims, "
            << std::fixed << std::setprecision(1) << seconds << " s" << std::endl;

  std::string errors;
  for (std::size_t i = 0; i < total.errors.size() && i < 5; ++i) errors += "\n  " + total.errors[i];
  EXPECT_TRUE(total.errors.empty()) << total.errors.size() << " unexpected errors:" << errors;

  // The clients' view: exactly one committed true per key.
  struct KeyView {
    int committed_trues = 0;
    std::optional<std::int64_t> token;
    Clock::time_point winner_start;
  };
  std::vector<KeyView> keys(static_cast<std::size_t>(options.keys));
  for (const ClaimCall& call : total.calls) {
    if (!call.claimed || !call.committed) continue;
    KeyView& view = keys[call.key];
    ++view.committed_trues;
    view.token = call.claim_token;
    view.winner_start = call.start;
  }
  Examples not_one;
  long keys_with_true = 0;
  for (int key = 0; key < options.keys; ++key) {
    if (keys[key].committed_trues > 0) ++keys_with_true;
    if (keys[key].committed_trues != 1) {
      not_one.add(key_name(key) + ": " + std::to_string(keys[key].committed_trues) +
                  " committed trues");
    }
  }
  EXPECT_EQ(not_one.count(), 0) << "keys without exactly one committed true:" << not_one.text();
  EXPECT_EQ(total.trues, options.keys);

  // A false means a committed guard was in the way: the winning claim must
  // have started before that false came back.
  Examples early_false;
  for (const ClaimCall& call : total.calls) {
    if (call.claimed || keys[call.key].committed_trues != 1) continue;
    if (call.end < keys[call.key].winner_start) {
      early_false.add(key_name(call.key) + ": thread " + std::to_string(call.thread) +
                      " got false before the winning claim started");
    }
  }
  EXPECT_EQ(early_false.count(), 0) << early_false.text();

  // The table: one pending guard per key that had a true, owned by the winner.
  Reply count = admin.exec(
      "SELECT count(*), count(DISTINCT key) FROM idempotency.guards WHERE scope = $1", {scope});
  EXPECT_TRUE(count.ok) << count.error();
  EXPECT_EQ(count.at(0, 0), Value{std::to_string(keys_with_true)}) << "guards in the table";
  EXPECT_EQ(count.at(0, 1), Value{std::to_string(options.keys)}) << "distinct keys in the table";
  Reply rows = admin.exec(
      "SELECT key, status, claim_token FROM idempotency.guards WHERE scope = $1", {scope});
  EXPECT_TRUE(rows.ok) << rows.error();
  Examples table_mismatch;
  std::vector<int> rows_per_key(static_cast<std::size_t>(options.keys));
  for (const auto& row : rows.rows) {
    int key = key_number(row[0].value_or("k-1"));
    if (key < 0 || key >= options.keys) {
      table_mismatch.add("unknown key " + row[0].value_or("NULL"));
      continue;
    }
    ++rows_per_key[key];
    if (row[1] != Value{"pending"}) {
      table_mismatch.add(key_name(key) + ": status " + row[1].value_or("NULL"));
    }
    if (keys[key].token && row[2] != Value{std::to_string(*keys[key].token)}) {
      table_mismatch.add(key_name(key) + ": claim_token " + row[2].value_or("NULL") +
                         ", the winner was given " + std::to_string(*keys[key].token));
    }
  }
  for (int key = 0; key < options.keys; ++key) {
    if (rows_per_key[key] != (keys[key].committed_trues > 0 ? 1 : 0)) {
      table_mismatch.add(key_name(key) + ": " + std::to_string(rows_per_key[key]) +
                         " rows, clients saw " + std::to_string(keys[key].committed_trues) +
                         " committed trues");
    }
  }
  EXPECT_EQ(table_mismatch.count(), 0) << "table and clients disagree:" << table_mismatch.text();
  EXPECT_GT(raced_keys(total.calls, options.keys), 0) << "no two claims of a key ever overlapped";
  return total;
}

// Autocommit claims and short transactions that hold their claim up to 2 ms.
TEST_F(StressTest, ExactlyOneTruePerKey) {
  scope_ = fresh_scope("plain");
  ClaimOptions options;
  options.name = "exactly one true per key";
  options.session_setup = {"SET statement_timeout = '60s'"};
  options.transaction_probability = 0.3;
  options.max_hold_us = 2000;
  Tally total = run_claim_stress(*admin_, scope_, options);
  EXPECT_EQ(total.lock_timeouts, 0);
}

// lock_timeout = 5ms while half the claims sit in transactions held up to
// 10 ms: waiting claims fail with 55P03 (or 40001) and are retried.
TEST_F(StressTest, ExactlyOneTruePerKeyWithLockTimeouts) {
  scope_ = fresh_scope("lock-timeout");
  ClaimOptions options;
  options.name = "with lock_timeout 5ms";
  options.session_setup = {"SET statement_timeout = '60s'", "SET lock_timeout = '5ms'"};
  options.transaction_probability = 0.5;
  options.max_hold_us = 10000;
  Tally total = run_claim_stress(*admin_, scope_, options);
  EXPECT_GT(total.lock_timeouts, 0)
      << "no claim ever hit the lock timeout: the test proved nothing";
}

// Every claim in a transaction; 30% of them roll back. A rolled-back true
// leaves no guard, so the key must be claimable again (the thread that rolled
// back claims it again later); in the end one committed true per key.
TEST_F(StressTest, ExactlyOneCommittedTruePerKeyWithRollbacks) {
  scope_ = fresh_scope("rollback");
  ClaimOptions options;
  options.name = "with 30% rollbacks";
  options.session_setup = {"SET statement_timeout = '60s'"};
  options.transaction_probability = 1.0;
  options.max_hold_us = 1000;
  options.rollback_probability = 0.3;
  Tally total = run_claim_stress(*admin_, scope_, options);
  EXPECT_GT(total.rolled_back_trues, 0) << "no winning claim was ever rolled back";
}

// claim_or_lookup with the request's fingerprint: the winner records an
// outcome (succeeded or failed) with its claim token after a short pause;
// everyone else retries while the guard is pending and then replays exactly
// that outcome.
TEST_F(StressTest, LosersReplayTheWinnersOutcome) {
  scope_ = fresh_scope("replay");
  const int keys = kKeys;
  Random planner(run_seed() ^ 0x5eedULL);
  std::vector<std::vector<int>> assigned = assign_keys(keys, planner);
  std::vector<std::uint64_t> seeds = thread_seeds(planner);
  std::vector<Tally> tallies(kConnections);
  struct Win {
    int key;
    int thread;
    std::int64_t token;
    std::string status;
    std::string outcome;
  };
  struct Replay {
    int key;
    int thread;
    std::string status;
    std::string outcome;
  };
  std::vector<std::vector<Win>> wins(kConnections);
  std::vector<std::vector<Replay>> replays(kConnections);
  Clock::time_point started = Clock::now();

  std::vector<std::string> setup_errors =
      run_threads({"SET statement_timeout = '60s'"}, [&](int thread, Connection& db) {
        Tally& tally = tallies[thread];
        Random random(seeds[thread]);
        WorkQueue work(assigned[thread]);
        auto fail = [&](const std::string& what, const Reply& reply) {
          tally.errors.push_back("thread " + std::to_string(thread) + ": " + what + ": " +
                                 reply.error());
        };
        while (std::optional<int> key = work.next()) {
          std::string name = key_name(*key);
          ++tally.claims;
          Reply claim = db.exec(
              "SELECT claimed, claim_token, status, outcome::text"
              " FROM idempotency.claim_or_lookup($1, $2, fingerprint => $3)",
              {scope_, name, "sha256:" + name});
          if (!claim.ok) return fail("claim_or_lookup of " + name, claim);
          if (claim.at(0, 0) == Value{"t"}) {
            ++tally.trues;
            Win win{*key, thread, std::stoll(claim.at(0, 1).value_or("0")),
                    random.chance(0.2) ? "failed" : "succeeded", ""};
            // jsonb's own text form (keys by length, then bytes), so replays
            // can be compared as strings.
            win.outcome = "{\"key\": \"" + name + "\", \"token\": " + std::to_string(win.token) +
                          ", \"winner\": " + std::to_string(thread) + "}";
            std::this_thread::sleep_for(microseconds(random.between(0, 2000)));
            const std::string record =
                "SELECT idempotency.record_outcome($1, $2, $3, $4::jsonb, $5::bigint)";
            std::vector<Value> params{scope_, name, win.status, win.outcome,
                                      std::to_string(win.token)};
            Reply recorded = db.exec(record, params);
            if (!recorded.ok) return fail("record_outcome of " + name, recorded);
            if (recorded.at(0, 0) != Value{"t"}) {
              return fail("record_outcome of " + name + " did not return true", recorded);
            }
            if (random.chance(0.2)) {  // a retried record_outcome: harmless, false
              ++tally.repeated_records;
              Reply again = db.exec(record, params);
              if (!again.ok) return fail("repeated record_outcome of " + name, again);
              if (again.at(0, 0) != Value{"f"}) {
                return fail("repeated record_outcome of " + name + " did not return false", again);
              }
            }
            wins[thread].push_back(win);
            continue;
          }
          ++tally.falses;
          if (claim.at(0, 1)) return fail("a false claim returned a token", claim);
          std::string status = claim.at(0, 2).value_or("NULL");
          if (status == "pending") {  // the winner has not recorded yet: ask again
            ++tally.pending_seen;
            work.retry_later(*key, random);
            continue;
          }
          ++tally.replays;
          replays[thread].push_back({*key, thread, status, claim.at(0, 3).value_or("NULL")});
          if (random.chance(kRetryProbability)) {
            ++tally.voluntary_retries;
            work.retry_later(*key, random);
          }
        }
      });
  double seconds = std::chrono::duration<double>(Clock::now() - started).count();

  Tally total;
  for (Tally& tally : tallies) total.add(std::move(tally));
  for (const std::string& error : setup_errors) total.errors.push_back(error);
  std::cout << "[stress] record/replay: " << kConnections << " connections, " << keys << " keys, "
            << total.claims << " claims attempted, " << total.trues << " trues, "
            << total.pending_seen << " pending answers retried, " << total.replays << " replays, "
            << total.repeated_records << " repeated record_outcome calls, "
            << total.voluntary_retries << " voluntary retries, " << std::fixed
            << std::setprecision(1) << seconds << " s" << std::endl;
  std::string errors;
  for (std::size_t i = 0; i < total.errors.size() && i < 5; ++i) errors += "\n  " + total.errors[i];
  ASSERT_TRUE(total.errors.empty()) << total.errors.size() << " unexpected errors:" << errors;

  std::vector<std::vector<const Win*>> wins_by_key(static_cast<std::size_t>(keys));
  for (const auto& thread_wins : wins) {
    for (const Win& win : thread_wins) wins_by_key[win.key].push_back(&win);
  }
  Examples not_one;
  for (int key = 0; key < keys; ++key) {
    if (wins_by_key[key].size() != 1) {
      not_one.add(key_name(key) + ": " + std::to_string(wins_by_key[key].size()) + " trues");
    }
  }
  ASSERT_EQ(not_one.count(), 0) << "keys without exactly one true:" << not_one.text();

  // Every replay is exactly the winner's outcome, and every claimer of a key
  // ended with either the win or a replay.
  Examples wrong_replay;
  std::vector<std::vector<int>> answered(static_cast<std::size_t>(keys));
  for (const auto& thread_replays : replays) {
    for (const Replay& replay : thread_replays) {
      const Win& win = *wins_by_key[replay.key].front();
      if (replay.status != win.status || replay.outcome != win.outcome) {
        wrong_replay.add(key_name(replay.key) + ": thread " + std::to_string(replay.thread) +
                         " replayed " + replay.status + " " + replay.outcome +
                         ", winner recorded " + win.status + " " + win.outcome);
      }
      answered[replay.key].push_back(replay.thread);
    }
  }
  EXPECT_EQ(wrong_replay.count(), 0) << wrong_replay.text();
  Examples unanswered;
  for (int thread = 0; thread < kConnections; ++thread) {
    for (int key : assigned[thread]) {
      bool won = wins_by_key[key].front()->thread == thread;
      bool replayed =
          std::find(answered[key].begin(), answered[key].end(), thread) != answered[key].end();
      if (!won && !replayed) {
        unanswered.add(key_name(key) + ": thread " + std::to_string(thread) + " got no replay");
      }
    }
  }
  EXPECT_EQ(unanswered.count(), 0) << unanswered.text();

  // The table holds the same outcome, under the winner's claim token.
  Reply rows = admin_->exec(
      "SELECT key, status, outcome::text, claim_token FROM idempotency.guards WHERE scope = $1",
      {scope_});
  ASSERT_TRUE(rows.ok) << rows.error();
  EXPECT_EQ(rows.rows.size(), static_cast<std::size_t>(keys)) << "guards in the table";
  Examples table_mismatch;
  for (const auto& row : rows.rows) {
    int key = key_number(row[0].value_or("k-1"));
    if (key < 0 || key >= keys) {
      table_mismatch.add("unknown key " + row[0].value_or("NULL"));
      continue;
    }
    const Win& win = *wins_by_key[key].front();
    if (row[1] != Value{win.status} || row[2] != Value{win.outcome} ||
        row[3] != Value{std::to_string(win.token)}) {
      table_mismatch.add(key_name(key) + ": " + row[1].value_or("NULL") + " " +
                         row[2].value_or("NULL") + " token " + row[3].value_or("NULL") +
                         "; winner: " + win.status + " " + win.outcome + " token " +
                         std::to_string(win.token));
    }
  }
  EXPECT_EQ(table_mismatch.count(), 0) << "table and clients disagree:" << table_mismatch.text();
}

}  // namespace
}  // namespace idempotency::integration
