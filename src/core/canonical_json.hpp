// The canonical JSON text that fingerprint() digests: one spelling per JSON
// value, so that key order, white space, number spelling (1.50, 1.5e0) and
// escapes do not change a fingerprint. Stable forever: changing it changes
// every stored fingerprint. The README's "Fingerprints computed one way"
// section is its specification.
#pragma once
#include "core/pure_cpp.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace idempotency::core {

// A string: UTF-8 between double quotes; only `"`, `\` and the control
// characters U+0000 to U+001F are escaped (\b \f \n \r \t, else \u00xx).
std::string canonical_json_string(std::string_view utf8);

// A number, from PostgreSQL's numeric text (plain digits, optional sign and
// fraction, never an exponent): trailing zeros of the fraction and a
// fraction of only zeros are dropped, and minus zero is 0. "1.50" -> "1.5".
std::string canonical_json_number(std::string_view numeric_text);

// An object from its members (key, canonical value), sorted by the key's
// UTF-8 bytes: {"a":1,"b":[true]}.
std::string canonical_json_object(std::vector<std::pair<std::string, std::string>> members);

// An array from its canonical elements, in order: [1,"x",null].
std::string canonical_json_array(const std::vector<std::string>& elements);

// The reference tokens of a JSON Pointer (RFC 6901): "" is the whole
// document, "/a/0/b~1c" is {"a", "0", "b/c"}. nullopt when it is not a
// pointer (no leading "/", or a "~" not followed by 0 or 1).
std::optional<std::vector<std::string>> parse_json_pointer(std::string_view pointer);

// A token that selects an array element: decimal digits, no leading zero
// (but "0"), small enough to index. nullopt otherwise.
std::optional<std::size_t> json_pointer_array_index(std::string_view token);

// Lowercase hexadecimal of `bytes`.
std::string lowercase_hex(std::string_view bytes);

}  // namespace idempotency::core
