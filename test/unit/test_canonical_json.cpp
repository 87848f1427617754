#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/canonical_json.hpp"
#include "core/canonical_number.hpp"
#include "core/canonical_text.hpp"
#include "core/guard_error.hpp"

#include "string_text.hpp"

namespace idempotency::core {
namespace {

using Tokens = std::vector<std::string>;

std::string canonical_string(std::string_view utf8) {
  StringText text;
  write_canonical_string(text, utf8);
  return std::string(text.view());
}

// The SQLSTATE code a call throws, or "none".
template <typename Call>
std::string thrown_state(Call call) {
  try {
    call();
  } catch (const GuardError& error) {
    return sqlstate_code(error.state());
  }
  return "none";
}

TEST(CanonicalJsonString, QuotesAndEscapesOnlyWhatJsonRequires) {
  EXPECT_EQ(canonical_string("plain"), "\"plain\"");
  EXPECT_EQ(canonical_string(""), "\"\"");
  EXPECT_EQ(canonical_string("say \"hi\" \\ now"), "\"say \\\"hi\\\" \\\\ now\"");
  EXPECT_EQ(canonical_string("a/b"), "\"a/b\"");
  EXPECT_EQ(canonical_string("\b\f\n\r\t"), "\"\\b\\f\\n\\r\\t\"");
  EXPECT_EQ(canonical_string(std::string_view("\x01\x1f", 2)), "\"\\u0001\\u001f\"");
  EXPECT_EQ(canonical_string(std::string_view("\0", 1)), "\"\\u0000\"");
  EXPECT_EQ(canonical_string("\x7f"), "\"\x7f\"");
  EXPECT_EQ(canonical_string("caf\xc3\xa9 \xe2\x82\xac"), "\"caf\xc3\xa9 \xe2\x82\xac\"");
  EXPECT_EQ(canonical_string("x\ty\"z"), "\"x\\ty\\\"z\"");
}

// A stored numeric's bytes after its length word, as PostgreSQL lays them
// out: the short form when it fits (as numeric.c's make_result chooses), else
// the long one.
std::string stored_bytes(bool negative, int weight, int display_scale,
                         const std::vector<std::int16_t>& digits) {
  std::string bytes;
  auto put = [&bytes](std::uint16_t word) {
    bytes.append(reinterpret_cast<const char*>(&word), sizeof word);
  };
  if (display_scale <= 63 && weight >= -64 && weight <= 63) {
    put(static_cast<std::uint16_t>(0x8000 | (negative ? 0x2000 : 0) | (display_scale << 7) |
                                   (weight & 0x7F)));
  } else {
    put(static_cast<std::uint16_t>((negative ? 0x4000 : 0) | display_scale));
    put(static_cast<std::uint16_t>(static_cast<std::int16_t>(weight)));
  }
  for (std::int16_t digit : digits) put(static_cast<std::uint16_t>(digit));
  return bytes;
}

std::string canonical_number(bool negative, int weight, int display_scale,
                             const std::vector<std::int16_t>& digits) {
  std::string bytes = stored_bytes(negative, weight, display_scale, digits);
  StringText text;
  write_canonical_number(text, decode_stored_numeric(bytes));
  return std::string(text.view());
}

TEST(StoredNumeric, DecodesShortAndLongHeaders) {
  std::string short_form = stored_bytes(true, -3, 12, {12, 3400});
  StoredNumeric decoded = decode_stored_numeric(short_form);
  EXPECT_TRUE(decoded.negative);
  EXPECT_EQ(decoded.weight, -3);
  EXPECT_EQ(decoded.display_scale, 12);
  EXPECT_EQ(decoded.digits.size(), 4u);
  EXPECT_EQ(decode_stored_numeric(stored_bytes(false, -64, 63, {1})).weight, -64);
  EXPECT_EQ(decode_stored_numeric(stored_bytes(false, 63, 0, {1})).weight, 63);

  std::string long_form = stored_bytes(false, 32767, 16383, {1, 2, 3});
  decoded = decode_stored_numeric(long_form);
  EXPECT_FALSE(decoded.negative);
  EXPECT_EQ(decoded.weight, 32767);
  EXPECT_EQ(decoded.display_scale, 16383);
  EXPECT_EQ(decoded.digits.size(), 6u);
  decoded = decode_stored_numeric(stored_bytes(true, -4096, 16383, {1}));
  EXPECT_TRUE(decoded.negative);
  EXPECT_EQ(decoded.weight, -4096);
}

TEST(StoredNumeric, RefusesDigitsOutOfRange) {
  EXPECT_THROW(decode_stored_numeric(stored_bytes(false, 0, 0, {10000})), std::logic_error);
  EXPECT_THROW(decode_stored_numeric(stored_bytes(false, 0, 0, {1, -1})), std::logic_error);
  EXPECT_NO_THROW(decode_stored_numeric(stored_bytes(false, 0, 0, {9999, 0})));
}

TEST(StoredNumeric, RefusesNaNAndInfinities) {
  for (std::uint16_t header : {0xC000, 0xD000, 0xF000}) {
    std::string bytes(reinterpret_cast<const char*>(&header), sizeof header);
    EXPECT_EQ(thrown_state([&] { decode_stored_numeric(bytes); }), "22023") << header;
  }
}

// What numeric_out prints for these numbers (psql: SELECT '1.50'::numeric),
// with the trailing zeros of the fraction dropped: the rule every pinned
// digest was computed with.
TEST(CanonicalNumber, PlainFormIsNumericOutWithoutTrailingFractionZeros) {
  EXPECT_EQ(canonical_number(false, 0, 0, {100}), "100");         // 100, 1e2
  EXPECT_EQ(canonical_number(false, 0, 2, {1, 5000}), "1.5");     // 1.50
  EXPECT_EQ(canonical_number(false, 0, 2, {1}), "1");             // 1.00
  EXPECT_EQ(canonical_number(false, 0, 1, {100}), "100");         // 100.0
  EXPECT_EQ(canonical_number(false, 0, 1, {}), "0");              // 0.0
  EXPECT_EQ(canonical_number(true, 0, 0, {}), "0");               // -0
  EXPECT_EQ(canonical_number(true, 0, 3, {}), "0");               // -0.000
  EXPECT_EQ(canonical_number(true, 0, 3, {12, 3400}), "-12.34");  // -12.340
  EXPECT_EQ(canonical_number(false, -1, 3, {10}), "0.001");       // 0.001
  EXPECT_EQ(canonical_number(false, 1, 1, {1234, 5678, 9000}), "12345678.9");
  EXPECT_EQ(canonical_number(false, 1, 0, {1, 0}), "10000");     // 10000
  EXPECT_EQ(canonical_number(false, 2, 0, {5}), "500000000");    // 5e8
  EXPECT_EQ(canonical_number(false, -2, 8, {1}), "0.00000001");  // 1e-8
  EXPECT_EQ(canonical_number(true, 0, 20, {3, 1415, 9265, 3589, 7932, 3846}),
            "-3.14159265358979323846");
  // numeric_out prints display_scale fraction digits, no more.
  EXPECT_EQ(canonical_number(false, 0, 2, {1, 2345}), "1.23");
}

TEST(CanonicalNumber, PlainFormUpToOneHundredCharacters) {
  // 1e99: "1" and 99 zeros, 100 characters.
  EXPECT_EQ(canonical_number(false, 24, 0, {1000}), "1" + std::string(99, '0'));
  // 1e100: 101 characters.
  EXPECT_EQ(canonical_number(false, 25, 0, {1}), "1e100");
  // -1e98: 100 characters with the sign; -1e99: 101.
  EXPECT_EQ(canonical_number(true, 24, 0, {100}), "-1" + std::string(98, '0'));
  EXPECT_EQ(canonical_number(true, 24, 0, {1000}), "-1e99");
  // 1e-98: "0." and 97 zeros and "1", 100 characters; 1e-99: 101.
  EXPECT_EQ(canonical_number(false, -25, 98, {100}), "0." + std::string(97, '0') + "1");
  EXPECT_EQ(canonical_number(false, -25, 99, {10}), "1e-99");
  // -1e-97: 100 characters; -1e-98: 101.
  EXPECT_EQ(canonical_number(true, -25, 97, {1000}), "-0." + std::string(96, '0') + "1");
  EXPECT_EQ(canonical_number(true, -25, 98, {100}), "-1e-98");
  // 98 ones, a point and a one: 100 characters; 99 ones, a point and a one: 101.
  std::vector<std::int16_t> ones(26, 1111);
  ones.front() = 11;
  ones.back() = 1000;
  EXPECT_EQ(canonical_number(false, 24, 1, ones), std::string(98, '1') + ".1");
  ones.front() = 111;
  EXPECT_EQ(canonical_number(false, 24, 1, ones), "1." + std::string(99, '1') + "e98");
  // 8 ones then 92 zeros: 100 characters; 96 zeros: 104.
  EXPECT_EQ(canonical_number(false, 24, 0, {1111, 1111}), "11111111" + std::string(92, '0'));
  EXPECT_EQ(canonical_number(false, 25, 0, {1111, 1111}), "1.1111111e103");
}

TEST(CanonicalNumber, ExponentFormHasOnlySignificantDigits) {
  EXPECT_EQ(canonical_number(false, 32767, 0, {1000}), "1e131071");
  EXPECT_EQ(canonical_number(true, 50, 0, {150}), "-1.5e202");
  EXPECT_EQ(canonical_number(true, 50, 0, {1, 5000}), "-1.5e200");
  EXPECT_EQ(canonical_number(false, -4096, 16383, {10}), "1e-16383");
  EXPECT_EQ(canonical_number(false, -30, 122, {1200, 300}), "1.20003e-117");
  // Interior zeros are significant, trailing ones are not.
  EXPECT_EQ(canonical_number(false, 30, 0, {1, 0, 0, 7000}), "1.000000007e120");
  // A 150-digit integer: 1234567890 fifteen times.
  std::string digits;
  for (int repeat = 0; repeat < 15; ++repeat) digits += "1234567890";
  std::vector<std::int16_t> groups;  // 150 digits: "12" then 37 groups of 4
  groups.push_back(12);
  for (std::size_t at = 2; at < digits.size(); at += 4) {
    groups.push_back(static_cast<std::int16_t>(std::stoi(digits.substr(at, 4))));
  }
  while (groups.back() == 0) groups.pop_back();
  std::string mantissa = digits.substr(0, 1) + "." + digits.substr(1);
  while (mantissa.back() == '0') mantissa.pop_back();
  EXPECT_EQ(canonical_number(false, 37, 0, groups), mantissa + "e149");
}

TEST(CanonicalNumber, DigitsBelowTheDisplayScaleAreNotPrinted) {
  EXPECT_EQ(canonical_number(false, -1, 2, {5}), "0");  // 0.0005 shown at scale 2
  EXPECT_EQ(canonical_number(true, -1, 2, {5}), "0");
}

TEST(CanonicalText, RefusesToPassItsLimitBeforeAllocatingPastIt) {
  StringText text(10);
  text.append("12345");
  text.append("67890");
  EXPECT_EQ(text.view(), "1234567890");
  EXPECT_LE(text.capacity(), 10u);
  EXPECT_EQ(thrown_state([&] { text.push_back('x'); }), "54000");
  EXPECT_EQ(thrown_state([&] { text.append("y"); }), "54000");
  EXPECT_EQ(text.view(), "1234567890");

  StringText small(10);
  small.append("123");
  EXPECT_EQ(thrown_state([&] { small.append("12345678"); }), "54000");
  EXPECT_EQ(small.view(), "123");
  EXPECT_LE(small.capacity(), 10u);
}

TEST(CanonicalText, GrowsByDoublingUpToTheLimit) {
  StringText text;
  std::string chunk(1000, 'x');
  for (int index = 0; index < 1000; ++index) text.append(chunk);
  EXPECT_EQ(text.size(), 1000000u);
  EXPECT_LE(text.reallocations, 12u);  // 1 KiB doubled to 1 MiB
  EXPECT_LE(text.capacity(), 2 * text.size());
  EXPECT_EQ(kMaxCanonicalTextBytes, 67108864u);
}

TEST(FingerprintPaths, AtMostOneThousand) {
  EXPECT_EQ(thrown_state([] { require_fingerprint_path_count(1000); }), "none");
  EXPECT_EQ(thrown_state([] { require_fingerprint_path_count(1001); }), "54000");
}

Tokens tokens_of(std::string_view pointer) {
  Tokens tokens;
  JsonPointerTokens reader(pointer);
  while (const std::string* token = reader.next()) tokens.push_back(*token);
  return tokens;
}

TEST(JsonPointer, ReadsRfc6901Tokens) {
  EXPECT_EQ(tokens_of(""), Tokens{});
  EXPECT_EQ(tokens_of("/"), Tokens{""});
  EXPECT_EQ(tokens_of("/a/0/b"), (Tokens{"a", "0", "b"}));
  EXPECT_EQ(tokens_of("/a~1b/m~0n"), (Tokens{"a/b", "m~n"}));
  EXPECT_EQ(tokens_of("/~01"), Tokens{"~1"});
  EXPECT_EQ(tokens_of("/a//b"), (Tokens{"a", "", "b"}));
  EXPECT_EQ(tokens_of("/a/"), (Tokens{"a", ""}));
}

TEST(JsonPointer, RefusesWhatIsNotAPointer) {
  EXPECT_TRUE(is_json_pointer(""));
  EXPECT_TRUE(is_json_pointer("/a~0~1"));
  EXPECT_FALSE(is_json_pointer("a/b"));
  EXPECT_FALSE(is_json_pointer("/a~"));
  EXPECT_FALSE(is_json_pointer("/a~2"));
  EXPECT_FALSE(is_json_pointer("$.a"));
}

TEST(JsonPointer, ArrayIndexes) {
  EXPECT_EQ(json_pointer_array_index("0"), 0u);
  EXPECT_EQ(json_pointer_array_index("17"), 17u);
  EXPECT_FALSE(json_pointer_array_index(""));
  EXPECT_FALSE(json_pointer_array_index("01"));
  EXPECT_FALSE(json_pointer_array_index("-1"));
  EXPECT_FALSE(json_pointer_array_index("1a"));
  EXPECT_FALSE(json_pointer_array_index("99999999999999999999"));
}

TEST(LowercaseHex, EncodesEveryByte) {
  EXPECT_EQ(lowercase_hex(""), "");
  EXPECT_EQ(lowercase_hex(std::string_view("\x00\x0f\xab\xff", 4)), "000fabff");
}

}  // namespace
}  // namespace idempotency::core
