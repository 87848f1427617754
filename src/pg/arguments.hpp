// Reading SQL arguments into plain C++ values. Text is detoasted into the
// function's memory context, so the views stay valid for the whole call.
#pragma once
#include "pg/postgres.hpp"

namespace idempotency::pg {

// NULL, or the detoasted text.
text* text_argument(FunctionCallInfo fcinfo, int index);
std::optional<std::int64_t> bigint_argument(FunctionCallInfo fcinfo, int index);
// NULL, or the interval; the pointer lives in the function's memory context.
Interval* interval_argument(FunctionCallInfo fcinfo, int index);
// NULL, or the detoasted jsonb value.
Jsonb* jsonb_argument(FunctionCallInfo fcinfo, int index);

// The text as a view, without copying (nullopt for NULL).
std::optional<std::string_view> text_view(const text* value);

// A new text datum holding `value`.
Datum text_datum(std::string_view value);

// now + duration, raising the usual "timestamp out of range" on overflow.
TimestampTz add_interval(TimestampTz now, Interval* duration);

}  // namespace idempotency::pg
