// Where fingerprint() writes the canonical text it digests: storage that
// never grows past a limit, so one call cannot make the server hold more.
// The storage itself is the caller's (PostgreSQL memory on the server, a
// std::string in the unit tests).
#pragma once
#include "core/pure_cpp.hpp"

#include <cstddef>
#include <cstring>
#include <string_view>

namespace idempotency::core {

// At most 64 MiB of canonical text a fingerprint() call (54000 past it).
// Without paths the text is at most 9 bytes per byte of the payload's jsonb
// form: a number other than zero takes at least 12 bytes there (its entry
// and a numeric of one base-10000 digit) and at most 100 characters and a
// comma here, a zero 10 bytes and 2 characters; a string byte becomes at most
// 6 (\u00xx); everything else shrinks. With paths, each part found adds that
// bound for the part, and 4 bytes plus 6 per pointer byte.
constexpr std::size_t kMaxCanonicalTextBytes = std::size_t{64} << 20;

// At most 1000 paths a fingerprint() call, duplicates counted (54000 past
// it): each may select the whole payload again.
constexpr std::size_t kMaxFingerprintPaths = 1000;

// 54000 when `count` paths are more than kMaxFingerprintPaths.
void require_fingerprint_path_count(std::size_t count);

class CanonicalText {
 public:
  explicit CanonicalText(std::size_t limit = kMaxCanonicalTextBytes) : limit_(limit) {}
  virtual ~CanonicalText() = default;
  CanonicalText(const CanonicalText&) = delete;
  CanonicalText& operator=(const CanonicalText&) = delete;

  // 54000 (GuardError) instead of passing the limit; nothing is allocated
  // past it.
  void append(std::string_view bytes) {
    if (bytes.empty()) return;
    if (bytes.size() > capacity_ - size_) make_room(bytes.size());
    std::memcpy(data_ + size_, bytes.data(), bytes.size());
    size_ += bytes.size();
  }
  void push_back(char byte) {
    if (size_ == capacity_) make_room(1);
    data_[size_++] = byte;
  }

  std::size_t size() const { return size_; }
  std::size_t capacity() const { return capacity_; }
  std::string_view view() const { return {data_, size_}; }

 protected:
  // Storage for `capacity` bytes (more than now, never more than the limit)
  // that starts with the size() bytes written so far.
  virtual char* reallocate(std::size_t capacity) = 0;

 private:
  void make_room(std::size_t more);

  std::size_t limit_;
  char* data_ = nullptr;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
};

}  // namespace idempotency::core
