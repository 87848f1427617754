// The canonical JSON text that fingerprint() digests: one spelling per JSON
// value, so that key order, white space, number spelling (1.50, 1.5e0) and
// escapes do not change a fingerprint. Stable forever: changing it changes
// every stored fingerprint. The README's "Fingerprints computed one way"
// section is its specification; numbers are in core/canonical_number.hpp,
// and the server side (src/sql_functions/fingerprint.cpp) writes the rest:
// arrays in order, objects sorted by the key's UTF-8 bytes, no white space.
#pragma once
#include "core/pure_cpp.hpp"

#include <optional>
#include <string>
#include <string_view>

#include "core/canonical_text.hpp"

namespace idempotency::core {

// A string: UTF-8 between double quotes; only `"`, `\` and the control
// characters U+0000 to U+001F are escaped (\b \f \n \r \t, else \u00xx).
void write_canonical_string(CanonicalText& out, std::string_view utf8);

// Whether `pointer` is a JSON Pointer (RFC 6901): "" (the whole document), or
// "/" followed by reference tokens where every "~" is followed by 0 or 1.
bool is_json_pointer(std::string_view pointer);

// The reference tokens of a JSON Pointer, one at a time, unescaped ("~1" is
// "/", "~0" is "~"): "/a/0/b~1c" gives "a", "0", "b/c"; "" gives none. Holds
// one token at a time, however many the pointer has.
class JsonPointerTokens {
 public:
  // `pointer` must be a JSON Pointer (is_json_pointer) and outlive this.
  explicit JsonPointerTokens(std::string_view pointer) : rest_(pointer) {}

  // The next token, or nullptr after the last. Valid until the next call.
  const std::string* next();

 private:
  std::string_view rest_;
  std::string token_;
};

// A token that selects an array element: decimal digits, no leading zero
// (but "0"), small enough to index. nullopt otherwise.
std::optional<std::size_t> json_pointer_array_index(std::string_view token);

// Lowercase hexadecimal of `bytes`.
std::string lowercase_hex(std::string_view bytes);

}  // namespace idempotency::core
