#include "glue/server_state.hpp"

#include <string>

#include "core/guard_error.hpp"
#include "core/guard_rules.hpp"

namespace idempotency::pg {

void require_writable(const char* action) {
  if (RecoveryInProgress()) {
    throw core::GuardError(core::SqlState::kReadOnlyTransaction,
                           std::string("cannot ") + action + " on a standby server",
                           "The server is in recovery: guards are read-only here.",
                           "Send writes to the primary; idempotency.lookup() works on standbys.");
  }
  if (XactReadOnly) {
    throw core::GuardError(core::SqlState::kReadOnlyTransaction,
                           std::string("cannot ") + action + " in a read-only transaction");
  }
}

namespace {

// pg_strong_random() costs about 8,500 instructions a call whatever the
// length (OpenSSL's per-call set-up), several percent of a claim; a claim
// needs 8 bytes. Drawing them 4 KiB at a time from the same generator makes
// that cost negligible, and the bytes are just as unpredictable.
constexpr std::size_t kRandomBufferBytes = 4096;
unsigned char random_buffer[kRandomBufferBytes];
std::size_t random_used = kRandomBufferBytes;
int random_owner_pid = 0;  // a buffer inherited across fork() is discarded

void random_bytes(void* target, std::size_t size) {
  if (random_owner_pid != MyProcPid || random_used + size > kRandomBufferBytes) {
    if (!pg_strong_random(random_buffer, kRandomBufferBytes)) {
      throw std::runtime_error("could not generate a random claim token");
    }
    random_used = 0;
    random_owner_pid = MyProcPid;
  }
  memcpy(target, random_buffer + random_used, size);
  // Each byte is handed out once.
  explicit_bzero(random_buffer + random_used, size);
  random_used += size;
}

}  // namespace

std::int64_t new_claim_token() {
  std::uint64_t bits = 0;
  random_bytes(&bits, sizeof bits);
  return core::claim_token_from_random(bits);
}

TimestampTz current_instant() { return GetCurrentTimestamp(); }

}  // namespace idempotency::pg
