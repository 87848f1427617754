#include "core/canonical_number.hpp"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <stdexcept>

#include "core/guard_error.hpp"

namespace idempotency::core {
namespace {

constexpr std::uint16_t kFlagMask = 0xC000;
constexpr std::uint16_t kLongPositive = 0x0000;
constexpr std::uint16_t kLongNegative = 0x4000;
constexpr std::uint16_t kShort = 0x8000;
constexpr std::uint16_t kLongDisplayScaleMask = 0x3FFF;
constexpr std::uint16_t kShortNegative = 0x2000;
constexpr std::uint16_t kShortDisplayScaleMask = 0x1F80;
constexpr int kShortDisplayScaleShift = 7;
constexpr std::uint16_t kShortWeightSign = 0x0040;
constexpr std::uint16_t kShortWeightMask = 0x003F;

constexpr int kDecimalDigitsPerGroup = 4;
constexpr std::int16_t kLargestDigit = 9999;
constexpr int kGroupDivisors[kDecimalDigitsPerGroup] = {1000, 100, 10, 1};

std::int16_t read_int16(std::string_view bytes, std::size_t offset) {
  std::int16_t value;
  std::memcpy(&value, bytes.data() + offset, sizeof value);
  return value;
}

// The decimal digits of a stored numeric by place (the digit worth 10^place),
// as numeric_out prints them: nothing below the display scale.
class DecimalDigits {
 public:
  explicit DecimalDigits(const StoredNumeric& number)
      : number_(number),
        groups_(static_cast<std::int64_t>(number.digits.size() / sizeof(std::int16_t))),
        top_(std::int64_t{kDecimalDigitsPerGroup} * number.weight + kDecimalDigitsPerGroup - 1),
        bottom_(std::max(top_ - kDecimalDigitsPerGroup * groups_ + 1,
                         -std::int64_t{number.display_scale})) {}

  // Highest and lowest places that may hold a printed digit.
  std::int64_t top() const { return top_; }
  std::int64_t bottom() const { return bottom_; }

  int at(std::int64_t place) const {
    if (place > top_ || place < bottom_) return 0;
    std::int64_t index = top_ - place;
    int group = read_int16(number_.digits, (index / kDecimalDigitsPerGroup) * sizeof(std::int16_t));
    return group / kGroupDivisors[index % kDecimalDigitsPerGroup] % 10;
  }

 private:
  const StoredNumeric& number_;
  std::int64_t groups_;
  std::int64_t top_;
  std::int64_t bottom_;
};

void write_digit(CanonicalText& out, int digit) { out.push_back(static_cast<char>('0' + digit)); }

}  // namespace

StoredNumeric decode_stored_numeric(std::string_view bytes) {
  if (bytes.size() < sizeof(std::uint16_t)) {
    throw std::logic_error("idempotency: a numeric shorter than its header");
  }
  std::uint16_t header = static_cast<std::uint16_t>(read_int16(bytes, 0));
  StoredNumeric number;
  std::size_t digits_offset = sizeof(std::uint16_t);
  std::uint16_t flags = header & kFlagMask;
  if (flags == kShort) {
    number.negative = (header & kShortNegative) != 0;
    number.display_scale = (header & kShortDisplayScaleMask) >> kShortDisplayScaleShift;
    number.weight = (header & kShortWeightSign) != 0
                        ? static_cast<int>(header & kShortWeightMask) - (kShortWeightMask + 1)
                        : static_cast<int>(header & kShortWeightMask);
  } else if (flags == kLongPositive || flags == kLongNegative) {
    if (bytes.size() < 2 * sizeof(std::uint16_t)) {
      throw std::logic_error("idempotency: a numeric shorter than its header");
    }
    number.negative = flags == kLongNegative;
    number.display_scale = header & kLongDisplayScaleMask;
    number.weight = read_int16(bytes, sizeof(std::uint16_t));
    digits_offset += sizeof(std::int16_t);
  } else {
    throw GuardError(SqlState::kInvalidParameterValue,
                     "a jsonb number that is NaN or infinite cannot be fingerprinted");
  }
  std::size_t digit_bytes = bytes.size() - digits_offset;
  number.digits = bytes.substr(digits_offset, digit_bytes - digit_bytes % sizeof(std::int16_t));
  for (std::size_t offset = 0; offset < number.digits.size(); offset += sizeof(std::int16_t)) {
    std::int16_t digit = read_int16(number.digits, offset);
    if (digit < 0 || digit > kLargestDigit) {
      throw std::logic_error("idempotency: a numeric digit out of range");
    }
  }
  return number;
}

void write_canonical_number(CanonicalText& out, const StoredNumeric& number) {
  DecimalDigits digits(number);
  // The places of the first and last significant digits.
  std::int64_t first = digits.top();
  while (first >= digits.bottom() && digits.at(first) == 0) --first;
  if (first < digits.bottom()) {
    out.push_back('0');  // a zero, whatever its sign and scale
    return;
  }
  std::int64_t last = digits.bottom();
  while (digits.at(last) == 0) ++last;

  std::int64_t plain_chars =
      (number.negative ? 1 : 0) + (first >= 0 ? first + 1 : 1) + (last < 0 ? 1 - last : 0);
  if (number.negative) out.push_back('-');
  if (plain_chars <= static_cast<std::int64_t>(kMaxPlainNumberChars)) {
    if (first < 0) out.push_back('0');
    for (std::int64_t place = first; place >= 0; --place) write_digit(out, digits.at(place));
    if (last < 0) {
      out.push_back('.');
      for (std::int64_t place = -1; place >= last; --place) write_digit(out, digits.at(place));
    }
    return;
  }
  write_digit(out, digits.at(first));
  if (last < first) {
    out.push_back('.');
    for (std::int64_t place = first - 1; place >= last; --place) {
      write_digit(out, digits.at(place));
    }
  }
  out.push_back('e');
  char exponent[24];
  auto written = std::to_chars(exponent, exponent + sizeof exponent, first);
  out.append(std::string_view(exponent, written.ptr - exponent));
}

}  // namespace idempotency::core
