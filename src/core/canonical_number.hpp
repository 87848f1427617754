// A jsonb number's canonical text, read from the numeric as PostgreSQL stores
// it (never expanded through numeric_out: 1e131071 is 8 bytes of input and
// would be 131,072 digits). The README's "Fingerprints computed one way"
// section is the specification:
//   plain form P: numeric_out's decimal text without trailing zeros of the
//   fraction (nor a fraction of only zeros and its point), and 0 for any zero;
//   P itself when it has at most 100 characters (sign, digits, point), else
//   the significant digits as [-]D[.DDD]eX (value = D.DDD x 10^X).
// Time and memory are proportional to the stored digits.
#pragma once
#include "core/pure_cpp.hpp"

#include <cstddef>
#include <string_view>

#include "core/canonical_text.hpp"

namespace idempotency::core {

// Numbers whose plain form has at most this many characters are written in
// it: every fingerprint computed before the exponent form existed stays valid.
constexpr std::size_t kMaxPlainNumberChars = 100;

// A numeric as stored: value = (-1 if negative) x sum of digits[i] x
// 10000^(weight - i), printed by numeric_out with display_scale fraction
// digits (digits past them are not printed).
struct StoredNumeric {
  bool negative = false;
  int weight = 0;
  int display_scale = 0;
  // The base-10000 digits (0..9999), each a native-endian int16.
  std::string_view digits;
};

// Decodes a numeric's bytes after its varlena length word (stable on disk
// since PostgreSQL 9.1): a uint16 header word; in the short form (bits
// 0x8000 set, 0x4000 clear) it also holds the sign (0x2000), the display
// scale (bits 0x1F80) and a 7-bit two's complement weight (0x007F); in the
// long form (0x8000 clear) the sign is 0x4000 and the display scale 0x3FFF,
// and an int16 weight follows. The digits come last. NaN and the infinities
// (0xC000 and up) cannot be in a jsonb: 22023 if one is. A digit out of
// 0..9999 is a corrupt value: std::logic_error.
StoredNumeric decode_stored_numeric(std::string_view bytes);

void write_canonical_number(CanonicalText& out, const StoredNumeric& number);

}  // namespace idempotency::core
