// A TCP proxy on loopback between a libpq client and the server, which can
// lose the answer to one statement: the network failure retry-safe claims are
// made for. It relays both ways; once armed (drop_next_answer), it withholds
// everything the server sends until the server's ReadyForQuery, which comes
// only after the statement's transaction committed (autocommit), and then
// closes both connections. The client sees its connection break without an
// answer, although the server did the work.
#pragma once

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace idempotency::integration {

class LossyProxy {
 public:
  // Forwards to the server the libpq environment names (PGHOST: a socket
  // directory or a host name, PGPORT). Listens on 127.0.0.1, port port().
  LossyProxy();
  ~LossyProxy();
  LossyProxy(const LossyProxy&) = delete;
  LossyProxy& operator=(const LossyProxy&) = delete;

  int port() const { return port_; }
  // Empty, or why the proxy could not start or relay.
  std::string error() const;

  // The answer to the next statement sent on an established connection is
  // lost (one-shot).
  void drop_next_answer() { drop_armed_ = true; }
  // How many answers were withheld so far (after their ReadyForQuery).
  int answers_dropped() const { return answers_dropped_; }

 private:
  void accept_loop();
  void relay(int client);
  // Relays the server's bytes in `pending` (whole messages) to `client`;
  // false when an armed drop has just withheld an answer.
  bool forward_server_messages(std::string& pending, int client);
  void fail(const std::string& message);

  int listener_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> drop_armed_{false};
  std::atomic<int> answers_dropped_{0};
  mutable std::mutex mutex_;
  std::string error_;
  std::thread acceptor_;
  std::vector<std::thread> relays_;
};

}  // namespace idempotency::integration
