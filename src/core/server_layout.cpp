#include "core/server_layout.hpp"

#include <array>
#include <charconv>

namespace idempotency::core {
namespace {

// The minors whose ResultRelInfo differs from the rest of their series.
constexpr std::array<int, 3> kResultRelInfoBreaks = {150009, 160005, 170001};

bool is_layout_break(int version_num) {
  for (int minor : kResultRelInfoBreaks) {
    if (version_num == minor) return true;
  }
  return false;
}

int major_of(int version_num) { return version_num / 10000; }

}  // namespace

bool same_result_rel_info_layout(int built, int running) {
  return major_of(built) == major_of(running) && is_layout_break(built) == is_layout_break(running);
}

std::optional<int> parse_server_version_num(std::string_view text) {
  int value = 0;
  const char* end = text.data() + text.size();
  auto [stop, error] = std::from_chars(text.data(), end, value);
  if (error != std::errc() || stop != end || value < 100000) return std::nullopt;
  return value;
}

}  // namespace idempotency::core
