#include "core/canonical_json.hpp"

#include <algorithm>
#include <limits>

namespace idempotency::core {

std::string canonical_json_string(std::string_view utf8) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(utf8.size() + 2);
  out.push_back('"');
  for (char c : utf8) {
    auto byte = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (byte < 0x20) {
          out += "\\u00";
          out.push_back(kHex[byte >> 4]);
          out.push_back(kHex[byte & 0xf]);
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
  return out;
}

std::string canonical_json_number(std::string_view numeric_text) {
  std::string number(numeric_text);
  if (std::string::size_type point = number.find('.'); point != std::string::npos) {
    std::string::size_type last = number.find_last_not_of('0');
    number.erase(last == point ? point : last + 1);
  }
  if (number == "-0") number = "0";
  return number;
}

std::string canonical_json_object(std::vector<std::pair<std::string, std::string>> members) {
  std::sort(members.begin(), members.end(),
            [](const auto& left, const auto& right) { return left.first < right.first; });
  std::string out = "{";
  for (const auto& [key, value] : members) {
    if (out.size() > 1) out.push_back(',');
    out += canonical_json_string(key);
    out.push_back(':');
    out += value;
  }
  out.push_back('}');
  return out;
}

std::string canonical_json_array(const std::vector<std::string>& elements) {
  std::string out = "[";
  for (const std::string& element : elements) {
    if (out.size() > 1) out.push_back(',');
    out += element;
  }
  out.push_back(']');
  return out;
}

std::optional<std::vector<std::string>> parse_json_pointer(std::string_view pointer) {
  std::vector<std::string> tokens;
  if (pointer.empty()) return tokens;
  if (pointer.front() != '/') return std::nullopt;
  std::string token;
  for (std::size_t index = 1; index <= pointer.size(); ++index) {
    if (index == pointer.size() || pointer[index] == '/') {
      tokens.push_back(std::move(token));
      token.clear();
    } else if (pointer[index] == '~') {
      if (index + 1 == pointer.size()) return std::nullopt;
      char escaped = pointer[++index];
      if (escaped == '0') {
        token.push_back('~');
      } else if (escaped == '1') {
        token.push_back('/');
      } else {
        return std::nullopt;
      }
    } else {
      token.push_back(pointer[index]);
    }
  }
  return tokens;
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
