#include "core/canonical_json.hpp"

#include <algorithm>
#include <limits>

namespace idempotency::core {

void write_canonical_string(CanonicalText& out, std::string_view utf8) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  // Runs of bytes that need no escape are copied whole.
  std::size_t run = 0;
  for (std::size_t index = 0; index < utf8.size(); ++index) {
    auto byte = static_cast<unsigned char>(utf8[index]);
    if (byte >= 0x20 && byte != '"' && byte != '\\') continue;
    out.append(utf8.substr(run, index - run));
    run = index + 1;
    switch (byte) {
      case '"':
        out.append("\\\"");
        break;
      case '\\':
        out.append("\\\\");
        break;
      case '\b':
        out.append("\\b");
        break;
      case '\f':
        out.append("\\f");
        break;
      case '\n':
        out.append("\\n");
        break;
      case '\r':
        out.append("\\r");
        break;
      case '\t':
        out.append("\\t");
        break;
      default:
        const char escape[] = {'\\', 'u', '0', '0', kHex[byte >> 4], kHex[byte & 0xf]};
        out.append(std::string_view(escape, sizeof escape));
    }
  }
  out.append(utf8.substr(run));
  out.push_back('"');
}

bool is_json_pointer(std::string_view pointer) {
  if (pointer.empty()) return true;
  if (pointer.front() != '/') return false;
  for (std::size_t index = 0; index < pointer.size(); ++index) {
    if (pointer[index] != '~') continue;
    if (index + 1 == pointer.size()) return false;
    char escaped = pointer[++index];
    if (escaped != '0' && escaped != '1') return false;
  }
  return true;
}

const std::string* JsonPointerTokens::next() {
  if (rest_.empty()) return nullptr;
  rest_.remove_prefix(1);  // the "/" before the token
  std::size_t end = std::min(rest_.find('/'), rest_.size());
  token_.clear();
  for (std::size_t index = 0; index < end; ++index) {
    if (rest_[index] == '~') {
      token_.push_back(rest_[++index] == '0' ? '~' : '/');
    } else {
      token_.push_back(rest_[index]);
    }
  }
  rest_.remove_prefix(end);
  return &token_;
}

std::optional<std::size_t> json_pointer_array_index(std::string_view token) {
  if (token.empty() || (token.size() > 1 && token.front() == '0')) return std::nullopt;
  std::size_t index = 0;
  for (char c : token) {
    if (c < '0' || c > '9') return std::nullopt;
    std::size_t digit = static_cast<std::size_t>(c - '0');
    if (index > (std::numeric_limits<int>::max() - digit) / 10) return std::nullopt;
    index = index * 10 + digit;
  }
  return index;
}

std::string lowercase_hex(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) {
    auto byte = static_cast<unsigned char>(c);
    out.push_back(kHex[byte >> 4]);
    out.push_back(kHex[byte & 0xf]);
  }
  return out;
}

}  // namespace idempotency::core
