// Reading SQL arguments into plain C++ values. Text is detoasted into the
// function's memory context, so the views stay valid for the whole call.
#pragma once
#include "glue/postgres.hpp"

extern "C" {
#include "utils/array.h"
}

namespace idempotency::pg {

// NULL, or the detoasted text.
text* text_argument(FunctionCallInfo fcinfo, int index);
std::optional<std::int64_t> bigint_argument(FunctionCallInfo fcinfo, int index);
// NULL, or the interval; the pointer lives in the function's memory context.
Interval* interval_argument(FunctionCallInfo fcinfo, int index);
// NULL, or the detoasted jsonb value.
Jsonb* jsonb_argument(FunctionCallInfo fcinfo, int index);

// The elements of a one-dimensional text[] (or any text[], flattened),
// palloc'd; nulls[i] is true for a NULL element.
struct TextArrayElements {
  Datum* elements = nullptr;
  bool* nulls = nullptr;
  int count = 0;
};
TextArrayElements text_array_elements(ArrayType* array);

// The text as a view, without copying (nullopt for NULL).
std::optional<std::string_view> text_view(const text* value);

// A new text datum holding `value`.
Datum text_datum(std::string_view value);

// `instant` as a timestamptz prints (DateStyle, TimeZone), palloc'd.
const char* timestamp_text(TimestampTz instant);

// now + duration, raising the usual "timestamp out of range" on overflow.
TimestampTz add_interval(TimestampTz now, Interval* duration);

// The (scope, key) pair every client function takes as its first two
// arguments, read and validated in one place.
struct GuardKey {
  text* scope = nullptr;
  text* key = nullptr;
  std::string_view scope_view;
  std::string_view key_view;
};

// Arguments 0 and 1; raises 22004 for NULL and 22023 for empty or too long.
GuardKey guard_key_arguments(FunctionCallInfo fcinfo);

}  // namespace idempotency::pg
