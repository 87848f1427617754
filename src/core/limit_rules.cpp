#include "core/limit_rules.hpp"

namespace idempotency::core {

void require_limit_values(std::optional<std::int64_t> max_live,
                          std::optional<std::int64_t> max_pending) {
  if (!max_live && !max_pending) {
    throw GuardError(SqlState::kInvalidParameterValue, "no limit given",
                     "set_limits needs max_live, max_pending or both.",
                     "drop_limits(scope) removes a scope's limits.");
  }
  for (auto [name, value] : {std::pair{"max_live", max_live}, {"max_pending", max_pending}}) {
    if (value && *value < 0) {
      throw GuardError(SqlState::kInvalidParameterValue,
                       std::string(name) + " must not be negative",
                       std::string(name) + " was " + std::to_string(*value) + ".");
    }
  }
}

namespace {

// The first byte string after every string that starts with `prefix`: the
// prefix with its last byte that is not 0xFF incremented, and cut there.
std::optional<std::string> byte_successor(std::string prefix) {
  while (!prefix.empty() && static_cast<unsigned char>(prefix.back()) == 0xFF) prefix.pop_back();
  if (prefix.empty()) return std::nullopt;
  prefix.back() = static_cast<char>(static_cast<unsigned char>(prefix.back()) + 1);
  return prefix;
}

// The code point of the UTF-8 sequence `bytes`, or nullopt if it is not one
// well-formed character.
std::optional<char32_t> decode_utf8(std::string_view bytes) {
  auto byte = [&](std::size_t index) { return static_cast<unsigned char>(bytes[index]); };
  std::size_t length = byte(0) < 0x80 ? 1 : byte(0) >= 0xF0 ? 4 : byte(0) >= 0xE0 ? 3 : 2;
  if (bytes.size() != length || (length > 1 && byte(0) < 0xC2) || byte(0) > 0xF4) {
    return std::nullopt;
  }
  if (length == 1) return byte(0);
  char32_t code = byte(0) & (0x7F >> length);
  for (std::size_t index = 1; index < length; ++index) {
    if ((byte(index) & 0xC0) != 0x80) return std::nullopt;
    code = (code << 6) | (byte(index) & 0x3F);
  }
  static constexpr char32_t kSmallest[] = {0, 0, 0x80, 0x800, 0x10000};
  bool surrogate = code >= 0xD800 && code <= 0xDFFF;
  if (code < kSmallest[length] || surrogate || code > 0x10FFFF) return std::nullopt;
  return code;
}

void append_utf8(std::string& out, char32_t code) {
  if (code < 0x80) {
    out += static_cast<char>(code);
    return;
  }
  int continuation = code < 0x800 ? 1 : code < 0x10000 ? 2 : 3;
  static constexpr unsigned char kLead[] = {0, 0xC0, 0xE0, 0xF0};
  out += static_cast<char>(kLead[continuation] | (code >> (6 * continuation)));
  for (int shift = 6 * (continuation - 1); shift >= 0; shift -= 6) {
    out += static_cast<char>(0x80 | ((code >> shift) & 0x3F));
  }
}

// As byte_successor, in valid UTF-8: the prefix with its last character
// below U+10FFFF replaced by the next one (UTF-8's byte order is code point
// order) and cut there. A prefix that is not valid UTF-8 falls back to bytes.
std::optional<std::string> utf8_successor(std::string prefix) {
  const std::string original = prefix;
  while (!prefix.empty()) {
    std::size_t start = prefix.size() - 1;
    while (start > 0 && (static_cast<unsigned char>(prefix[start]) & 0xC0) == 0x80) --start;
    std::optional<char32_t> code = decode_utf8(std::string_view(prefix).substr(start));
    if (!code) return byte_successor(original);
    prefix.resize(start);
    if (*code == 0x10FFFF) continue;
    char32_t next = *code + 1 == 0xD800 ? 0xE000 : *code + 1;  // no surrogates
    append_utf8(prefix, next);
    return prefix;
  }
  return std::nullopt;
}

}  // namespace

ScopeRange scope_range(std::string_view pattern, bool utf8) {
  // An exact scope: up to the scope followed by byte 1, not 0. A scope never
  // holds a 0 byte, so nothing lies between; and a bound with a 0 byte is no
  // valid text: Citus sends parameters to the shards as text, where it ends
  // at the 0 and the count of the scope's guards came back 0.
  if (pattern.empty() || pattern.back() != '*') {
    return {std::string(pattern), std::string(pattern) + '\x01'};
  }
  std::string prefix(pattern.substr(0, pattern.size() - 1));
  return {prefix, utf8 ? utf8_successor(prefix) : byte_successor(prefix)};
}

GuardError scope_limit_error(std::string_view scope, std::string_view pattern, LimitKind kind,
                             std::int64_t maximum) {
  const char* what = kind == LimitKind::kLive ? "guards" : "pending guards";
  std::string covered = pattern == scope ? "scope \"" + std::string(scope) + "\""
                                         : "scopes \"" + std::string(pattern) + "\"";
  return GuardError(SqlState::kScopeLimitReached,
                    "scope \"" + std::string(scope) + "\" has reached its limit of " + what,
                    "The " + covered + " may hold at most " + std::to_string(maximum) + " " + what +
                        " (idempotency.set_limits); nothing was claimed.",
                    kind == LimitKind::kLive
                        ? "Retry later: guards that are purged or released give room back."
                        : "Retry later: recorded outcomes and releases give room back.");
}

}  // namespace idempotency::core
