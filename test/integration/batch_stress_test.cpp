// A stress test of claim_guards(): 12 connections send shuffled batches of
// 50 keys. Batches 10w to 10w+9 of every connection draw their keys from the
// same window w of 200 keys, so the connections' batches overlap heavily, in
// different orders, and some keys repeat inside a batch. Each batch runs in
// its own transaction, held open up to 2 ms and then committed or rolled back
// (half each, which keeps keys free to fight over), so batches really wait on
// each other.
// Had the keys been taken in input order, such batches would deadlock
// (40P01; taken in input order, this test fails with about a hundred of them);
// the test fails on any error at all. At the end every key that a
// committed batch claimed was claimed exactly once, with the token the table
// holds, and the table holds no other guard.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include "pg_client.hpp"

namespace idempotency::integration {
namespace {

constexpr int kConnections = 12;
constexpr int kBatchesPerConnection = 60;
constexpr int kBatchSize = 50;
constexpr int kKeyWindow = 200;
constexpr double kRollbackProbability = 0.5;
constexpr int kBatchesPerWindow = 10;
constexpr int kMaxHoldUs = 2000;

struct Claim {
  std::string key;
  std::string token;
};

TEST(BatchStressTest, OverlappingShuffledBatchesNeverDeadlockAndClaimOnce) {
  std::string missing = missing_server_environment();
  ASSERT_TRUE(missing.empty()) << missing;
  Connection admin("idempotency_batch_stress_admin");
  ASSERT_TRUE(admin.connected()) << admin.error();
  ASSERT_TRUE(admin.exec("CREATE EXTENSION IF NOT EXISTS idempotency").ok);
  std::string scope = "batch-stress-" + std::to_string(getpid()) + "-" +
                      std::to_string(std::chrono::system_clock::now().time_since_epoch().count());
  unsigned seed = std::random_device{}();
  std::cout << "[stress] batch seed " << seed << std::endl;

  std::mutex mutex;
  std::vector<Claim> committed_claims;
  std::vector<std::string> errors;
  int rolled_back = 0;
  std::vector<std::thread> threads;
  for (int thread = 0; thread < kConnections; ++thread) {
    threads.emplace_back([&, thread] {
      std::mt19937 random(seed + thread);
      Connection connection("idempotency_batch_stress");
      if (!connection.connected()) {
        std::lock_guard<std::mutex> lock(mutex);
        errors.push_back("cannot connect: " + connection.error());
        return;
      }
      std::uniform_int_distribution<int> key_of(0, kKeyWindow - 1);
      std::uniform_int_distribution<int> hold_us(0, kMaxHoldUs);
      std::bernoulli_distribution roll_back(kRollbackProbability);
      for (int batch = 0; batch < kBatchesPerConnection; ++batch) {
        std::string keys = "{";
        for (int entry = 0; entry < kBatchSize; ++entry) {
          keys += (entry == 0 ? "k" : ",k") +
                  std::to_string(batch / kBatchesPerWindow * kKeyWindow + key_of(random));
        }
        keys += "}";
        Reply begin = connection.exec("BEGIN");
        Reply answers = connection.exec(
            "SELECT key, claimed, claim_token FROM idempotency.claim_guards($1, $2::text[])",
            {scope, keys});
        if (!begin.ok || !answers.ok) {
          connection.exec("ROLLBACK");
          std::lock_guard<std::mutex> lock(mutex);
          errors.push_back(answers.error());
          continue;
        }
        std::this_thread::sleep_for(std::chrono::microseconds(hold_us(random)));
        bool commit = !roll_back(random);
        Reply end = connection.exec(commit ? "COMMIT" : "ROLLBACK");
        std::lock_guard<std::mutex> lock(mutex);
        if (!end.ok) {
          errors.push_back(end.error());
          continue;
        }
        if (!commit) {
          ++rolled_back;
          continue;
        }
        for (std::size_t row = 0; row < answers.rows.size(); ++row) {
          if (answers.at(row, 1) == "t") {
            committed_claims.push_back({*answers.at(row, 0), *answers.at(row, 2)});
          }
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  ASSERT_TRUE(errors.empty()) << errors.size() << " errors, the first: " << errors.front();
  std::cout << "[stress] batch claims: " << kConnections << " connections, "
            << kConnections * kBatchesPerConnection << " batches of " << kBatchSize << ", "
            << rolled_back << " rolled back, " << committed_claims.size() << " committed claims"
            << std::endl;

  std::map<std::string, std::string> claimed;  // key -> token
  for (const Claim& claim : committed_claims) {
    EXPECT_TRUE(claimed.emplace(claim.key, claim.token).second)
        << "key " << claim.key << " claimed twice by committed batches";
  }
  Reply guards = admin.exec(
      "SELECT key, claim_token FROM idempotency.guards WHERE scope = $1 ORDER BY key", {scope});
  ASSERT_TRUE(guards.ok) << guards.error();
  EXPECT_EQ(guards.rows.size(), claimed.size());
  for (std::size_t row = 0; row < guards.rows.size(); ++row) {
    auto found = claimed.find(*guards.at(row, 0));
    ASSERT_NE(found, claimed.end()) << "guard " << *guards.at(row, 0) << " nobody claimed";
    EXPECT_EQ(found->second, *guards.at(row, 1)) << "token of " << found->first;
  }
  if (!HasFailure()) admin.exec("DELETE FROM idempotency.guards WHERE scope = $1", {scope});
}

}  // namespace
}  // namespace idempotency::integration
