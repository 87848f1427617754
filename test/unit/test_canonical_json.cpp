#include <gtest/gtest.h>

#include "core/canonical_json.hpp"

namespace idempotency::core {
namespace {

using Tokens = std::vector<std::string>;

TEST(CanonicalJsonString, QuotesAndEscapesOnlyWhatJsonRequires) {
  EXPECT_EQ(canonical_json_string("plain"), "\"plain\"");
  EXPECT_EQ(canonical_json_string("say \"hi\" \\ now"), "\"say \\\"hi\\\" \\\\ now\"");
  EXPECT_EQ(canonical_json_string("a/b"), "\"a/b\"");
  EXPECT_EQ(canonical_json_string("\b\f\n\r\t"), "\"\\b\\f\\n\\r\\t\"");
  EXPECT_EQ(canonical_json_string(std::string_view("\x01\x1f", 2)), "\"\\u0001\\u001f\"");
  EXPECT_EQ(canonical_json_string(std::string_view("\0", 1)), "\"\\u0000\"");
  EXPECT_EQ(canonical_json_string("\x7f"), "\"\x7f\"");
  EXPECT_EQ(canonical_json_string("caf\xc3\xa9 \xe2\x82\xac"), "\"caf\xc3\xa9 \xe2\x82\xac\"");
}

TEST(CanonicalJsonNumber, DropsTrailingFractionZerosAndMinusZero) {
  EXPECT_EQ(canonical_json_number("100"), "100");
  EXPECT_EQ(canonical_json_number("1.50"), "1.5");
  EXPECT_EQ(canonical_json_number("1.00"), "1");
  EXPECT_EQ(canonical_json_number("100.0"), "100");
  EXPECT_EQ(canonical_json_number("0.0"), "0");
  EXPECT_EQ(canonical_json_number("-0"), "0");
  EXPECT_EQ(canonical_json_number("-0.000"), "0");
  EXPECT_EQ(canonical_json_number("-12.340"), "-12.34");
  EXPECT_EQ(canonical_json_number("0.001"), "0.001");
}

TEST(CanonicalJsonObject, SortsMembersByKeyBytes) {
  EXPECT_EQ(canonical_json_object({}), "{}");
  EXPECT_EQ(canonical_json_object({{"b", "1"}, {"a", "[true]"}, {"aa", "null"}}),
            "{\"a\":[true],\"aa\":null,\"b\":1}");
  // Bytes, not lengths first (jsonb's own order) and not a locale.
  EXPECT_EQ(canonical_json_object({{"zz", "1"}, {"b", "2"}, {"B", "3"}, {"\xc3\xa9", "4"}}),
            "{\"B\":3,\"b\":2,\"zz\":1,\"\xc3\xa9\":4}");
  EXPECT_EQ(canonical_json_object({{"k\"", "1"}}), "{\"k\\\"\":1}");
}

TEST(CanonicalJsonArray, KeepsOrder) {
  EXPECT_EQ(canonical_json_array({}), "[]");
  EXPECT_EQ(canonical_json_array({"2", "\"x\"", "null"}), "[2,\"x\",null]");
}

TEST(JsonPointer, ParsesRfc6901) {
  EXPECT_EQ(parse_json_pointer(""), Tokens{});
  EXPECT_EQ(parse_json_pointer("/"), Tokens{""});
  EXPECT_EQ(parse_json_pointer("/a/0/b"), (Tokens{"a", "0", "b"}));
  EXPECT_EQ(parse_json_pointer("/a~1b/m~0n"), (Tokens{"a/b", "m~n"}));
  EXPECT_EQ(parse_json_pointer("/~01"), Tokens{"~1"});
  EXPECT_EQ(parse_json_pointer("/a//b"), (Tokens{"a", "", "b"}));
}

TEST(JsonPointer, RefusesWhatIsNotAPointer) {
  EXPECT_FALSE(parse_json_pointer("a/b"));
  EXPECT_FALSE(parse_json_pointer("/a~"));
  EXPECT_FALSE(parse_json_pointer("/a~2"));
  EXPECT_FALSE(parse_json_pointer("$.a"));
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
