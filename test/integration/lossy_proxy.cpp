#include "lossy_proxy.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>

namespace idempotency::integration {
namespace {

constexpr int kPollMilliseconds = 50;

std::string environment(const char* name, const char* fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? value : fallback;
}

// A connection to the server libpq's environment names, or -1.
int connect_upstream() {
  std::string host = environment("PGHOST", "/var/run/postgresql");
  std::string port = environment("PGPORT", "5432");
  if (host.front() == '/') {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::string path = host + "/.s.PGSQL." + port;
    if (path.size() >= sizeof(address.sun_path)) return -1;
    std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
    int socket_fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (socket_fd >= 0 &&
        connect(socket_fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0) {
      return socket_fd;
    }
    if (socket_fd >= 0) close(socket_fd);
    return -1;
  }
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), port.c_str(), &hints, &found) != 0) return -1;
  int socket_fd = -1;
  for (addrinfo* candidate = found; candidate != nullptr; candidate = candidate->ai_next) {
    socket_fd = socket(candidate->ai_family, candidate->ai_socktype, candidate->ai_protocol);
    if (socket_fd >= 0 && connect(socket_fd, candidate->ai_addr, candidate->ai_addrlen) == 0) break;
    if (socket_fd >= 0) close(socket_fd);
    socket_fd = -1;
  }
  freeaddrinfo(found);
  return socket_fd;
}

bool send_all(int socket_fd, const char* data, std::size_t size) {
  while (size > 0) {
    ssize_t sent = send(socket_fd, data, size, MSG_NOSIGNAL);
    if (sent <= 0) return false;
    data += sent;
    size -= static_cast<std::size_t>(sent);
  }
  return true;
}

// The length of the whole message at the start of `bytes` (type byte, then a
// big-endian length that counts itself), or 0 while it is incomplete.
std::size_t whole_message_length(const std::string& bytes) {
  if (bytes.size() < 5) return 0;
  std::uint32_t length = 0;
  std::memcpy(&length, bytes.data() + 1, 4);
  std::size_t total = 1 + ntohl(length);
  return bytes.size() >= total ? total : 0;
}

}  // namespace

LossyProxy::LossyProxy() {
  listener_ = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  if (listener_ < 0 || bind(listener_, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
      listen(listener_, 8) != 0 ||
      getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    fail(std::string("cannot listen on 127.0.0.1: ") + std::strerror(errno));
    return;
  }
  port_ = ntohs(address.sin_port);
  acceptor_ = std::thread([this] { accept_loop(); });
}

LossyProxy::~LossyProxy() {
  stopping_ = true;
  if (acceptor_.joinable()) acceptor_.join();
  for (std::thread& relay : relays_) relay.join();
  if (listener_ >= 0) close(listener_);
}

std::string LossyProxy::error() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return error_;
}

void LossyProxy::fail(const std::string& message) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (error_.empty()) error_ = message;
}

void LossyProxy::accept_loop() {
  while (!stopping_) {
    pollfd waiting{listener_, POLLIN, 0};
    if (poll(&waiting, 1, kPollMilliseconds) <= 0) continue;
    int client = accept(listener_, nullptr, nullptr);
    if (client < 0) continue;
    relays_.emplace_back([this, client] { relay(client); });
  }
}

void LossyProxy::relay(int client) {
  int server = connect_upstream();
  if (server < 0) {
    fail("cannot connect to the server named by PGHOST/PGPORT");
    close(client);
    return;
  }
  // The server's bytes not yet relayed: only whole messages are relayed, so
  // an armed drop starts at a message boundary. (The client asks for neither
  // SSL nor GSS encryption, whose one-byte answers have no message frame.)
  std::string from_server;
  char buffer[8192];
  bool open = true;
  while (open && !stopping_) {
    pollfd ends[2] = {{client, POLLIN, 0}, {server, POLLIN, 0}};
    if (poll(ends, 2, kPollMilliseconds) <= 0) continue;
    if (ends[0].revents != 0) {
      ssize_t received = recv(client, buffer, sizeof(buffer), 0);
      open = received > 0 && send_all(server, buffer, static_cast<std::size_t>(received));
    }
    if (open && ends[1].revents != 0) {
      ssize_t received = recv(server, buffer, sizeof(buffer), 0);
      if (received > 0) {
        from_server.append(buffer, static_cast<std::size_t>(received));
        open = forward_server_messages(from_server, client);
      } else {
        open = false;
      }
    }
  }
  close(server);
  close(client);
}

bool LossyProxy::forward_server_messages(std::string& pending, int client) {
  while (std::size_t length = whole_message_length(pending)) {
    char type = pending[0];
    if (drop_armed_) {
      // Withheld. ReadyForQuery ends the answer: the transaction is over.
      pending.erase(0, length);
      if (type == 'Z') {
        drop_armed_ = false;
        ++answers_dropped_;
        return false;
      }
      continue;
    }
    if (!send_all(client, pending.data(), length)) return false;
    pending.erase(0, length);
  }
  return true;
}

}  // namespace idempotency::integration
