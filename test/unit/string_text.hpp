// Canonical text kept in a std::string, for the tests of the pure core (the
// server keeps it in PostgreSQL memory).
#pragma once
#include <cstddef>
#include <string>

#include "core/canonical_text.hpp"

namespace idempotency::core {

class StringText final : public CanonicalText {
 public:
  explicit StringText(std::size_t limit = kMaxCanonicalTextBytes) : CanonicalText(limit) {}
  std::size_t reallocations = 0;

 protected:
  char* reallocate(std::size_t capacity) override {
    ++reallocations;
    storage_.resize(capacity);
    return storage_.data();
  }

 private:
  std::string storage_;
};

}  // namespace idempotency::core
