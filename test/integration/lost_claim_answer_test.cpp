// A claim whose answer is lost on the network (idempot-js issue 185): the
// claim commits, the connection breaks before the client reads the answer,
// and the client retries the claim from a new connection. Through a real TCP
// proxy (lossy_proxy.hpp) that withholds the server's answer to the claim and
// then closes the connection:
// - with an attempt id, the retry gets its claim back (same claim token), the
//   side effect runs exactly once and its outcome is recorded;
// - without one (the control run), the retry finds its own claim "pending",
//   as if someone else held it: the side effect never runs and the key is
//   stuck until its ttl (or lease) runs out.
#include <gtest/gtest.h>

#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>

#include "lossy_proxy.hpp"
#include "pg_client.hpp"

namespace idempotency::integration {
namespace {

// What the client side of the test saw.
struct Payment {
  bool answered = false;  // the claim was answered (not lost)
  bool claimed = false;
  Value claim_token;
  Value status;
};

// One "payment service": claims through the proxy, and on a claim answer
// runs the side effect (counted) and records its outcome.
class Client {
 public:
  Client(LossyProxy& proxy, std::string scope, std::string key, Value attempt)
      : proxy_(proxy),
        scope_(std::move(scope)),
        key_(std::move(key)),
        attempt_(std::move(attempt)) {}

  // `lose_answer`: the proxy loses the claim's answer.
  Payment pay(bool lose_answer = false) {
    Connection conn("lost_claim_answer", {{"host", "127.0.0.1"},
                                          {"port", std::to_string(proxy_.port())},
                                          {"sslmode", "disable"},
                                          {"gssencmode", "disable"}});
    EXPECT_TRUE(conn.connected()) << conn.error();
    if (lose_answer) proxy_.drop_next_answer();
    Reply claim = conn.exec(
        "SELECT claimed, claim_token, status"
        " FROM idempotency.claim_or_lookup($1, $2, lease => '1 hour', attempt => $3)",
        {scope_, key_, attempt_});
    Payment payment;
    if (!claim.ok) return payment;  // the answer was lost: the caller retries
    payment.answered = true;
    payment.claimed = claim.at(0, 0) == Value("t");
    payment.claim_token = claim.at(0, 1);
    payment.status = claim.at(0, 2);
    if (payment.claimed) {
      ++side_effects;
      Reply recorded =
          conn.exec("SELECT idempotency.record_outcome($1, $2, 'succeeded', '{\"charge\": 1}', $3)",
                    {scope_, key_, payment.claim_token});
      EXPECT_TRUE(recorded.ok) << recorded.error();
    }
    return payment;
  }

  int side_effects = 0;

 private:
  LossyProxy& proxy_;
  std::string scope_;
  std::string key_;
  Value attempt_;
};

class LostClaimAnswer : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string missing = missing_server_environment();
    if (!missing.empty()) FAIL() << missing;
    direct_ = std::make_unique<Connection>("lost_claim_answer_observer");
    ASSERT_TRUE(direct_->connected()) << direct_->error();
    scope_ = "lost-answer-" + std::to_string(getpid()) + "-" +
             std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
    ASSERT_TRUE(proxy_.error().empty()) << proxy_.error();
  }

  void TearDown() override {
    if (direct_ != nullptr) {
      direct_->exec("DELETE FROM idempotency.guards WHERE scope = $1", {scope_});
    }
  }

  // The guard as the server has it: (status, claim_token), seen directly.
  std::pair<Value, Value> stored_guard(const std::string& key) {
    Reply row = direct_->exec(
        "SELECT status, claim_token FROM idempotency.guards WHERE scope = $1 AND key = $2",
        {scope_, key});
    EXPECT_TRUE(row.ok) << row.error();
    return {row.at(0, 0), row.at(0, 1)};
  }

  LossyProxy proxy_;
  std::unique_ptr<Connection> direct_;
  std::string scope_;
};

TEST_F(LostClaimAnswer, RetryWithTheSameAttemptGetsItsClaimBack) {
  Client client(proxy_, scope_, "order-1", Value("b2f1c7a4-5e0d-4f3a-9c1b-7d2e8a6f4c30"));
  Payment lost = client.pay(/*lose_answer=*/true);
  ASSERT_EQ(proxy_.answers_dropped(), 1) << proxy_.error();
  EXPECT_FALSE(lost.answered);
  // The claim committed although its answer never arrived.
  auto [status, token] = stored_guard("order-1");
  EXPECT_EQ(status, Value("pending"));
  ASSERT_TRUE(token.has_value());
  EXPECT_EQ(client.side_effects, 0);

  // The retry, from a new connection, is recognised as the claim's owner.
  Payment retried = client.pay();
  ASSERT_TRUE(retried.answered) << proxy_.error();
  EXPECT_TRUE(retried.claimed);
  EXPECT_EQ(retried.claim_token, token) << "the retry must get the claim's own token";
  EXPECT_EQ(client.side_effects, 1);
  EXPECT_EQ(stored_guard("order-1").first, Value("succeeded"));

  // Any later retry replays the outcome and never runs the side effect again.
  Payment replayed = client.pay();
  ASSERT_TRUE(replayed.answered);
  EXPECT_FALSE(replayed.claimed);
  EXPECT_EQ(replayed.status, Value("succeeded"));
  EXPECT_EQ(client.side_effects, 1) << "the side effect must run exactly once";

  // Another client with another attempt never got the claim.
  Client other(proxy_, scope_, "order-1", Value("0e9d4c21-another-attempt-000000000"));
  EXPECT_FALSE(other.pay().claimed);
  EXPECT_EQ(other.side_effects, 0);
}

TEST_F(LostClaimAnswer, WithoutAnAttemptTheRetryIsToldTheKeyIsTaken) {
  Client client(proxy_, scope_, "order-2", std::nullopt);
  Payment lost = client.pay(/*lose_answer=*/true);
  ASSERT_EQ(proxy_.answers_dropped(), 1) << proxy_.error();
  EXPECT_FALSE(lost.answered);
  EXPECT_EQ(stored_guard("order-2").first, Value("pending"));

  // The real winner is told it lost: "pending", no token, nothing to do.
  Payment retried = client.pay();
  ASSERT_TRUE(retried.answered) << proxy_.error();
  EXPECT_FALSE(retried.claimed);
  EXPECT_FALSE(retried.claim_token.has_value());
  EXPECT_EQ(retried.status, Value("pending"));
  EXPECT_EQ(client.side_effects, 0);
  // And the key stays stuck: every retry says the same until the lease ends.
  EXPECT_EQ(client.pay().status, Value("pending"));
  EXPECT_EQ(client.side_effects, 0);
  EXPECT_EQ(stored_guard("order-2").first, Value("pending"));
}

}  // namespace
}  // namespace idempotency::integration
