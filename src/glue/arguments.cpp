#include "glue/arguments.hpp"

#include "core/input_validation.hpp"

#include "glue/error_boundary.hpp"

namespace idempotency::pg {

std::optional<std::string_view> text_view(const text* value) {
  if (value == nullptr) return std::nullopt;
  return std::string_view(VARDATA_ANY(value), VARSIZE_ANY_EXHDR(value));
}

text* text_argument(FunctionCallInfo fcinfo, int index) {
  if (PG_ARGISNULL(index)) return nullptr;
  return call_pg([&]() noexcept { return PG_GETARG_TEXT_PP(index); });
}

std::optional<std::int64_t> bigint_argument(FunctionCallInfo fcinfo, int index) {
  if (PG_ARGISNULL(index)) return std::nullopt;
  return PG_GETARG_INT64(index);
}

Interval* interval_argument(FunctionCallInfo fcinfo, int index) {
  if (PG_ARGISNULL(index)) return nullptr;
  return PG_GETARG_INTERVAL_P(index);
}

Jsonb* jsonb_argument(FunctionCallInfo fcinfo, int index) {
  if (PG_ARGISNULL(index)) return nullptr;
  return call_pg([&]() noexcept { return PG_GETARG_JSONB_P(index); });
}

Datum text_datum(std::string_view value) {
  return call_pg([&]() noexcept {
    return PointerGetDatum(cstring_to_text_with_len(value.data(), value.size()));
  });
}

TextArrayElements text_array_elements(ArrayType* array) {
  TextArrayElements result;
  call_pg([&]() noexcept {
    deconstruct_array(array, TEXTOID, -1, false, TYPALIGN_INT, &result.elements, &result.nulls,
                      &result.count);
  });
  return result;
}

const char* timestamp_text(TimestampTz instant) {
  return call_pg([&]() noexcept {
    return DatumGetCString(DirectFunctionCall1(timestamptz_out, TimestampTzGetDatum(instant)));
  });
}

TimestampTz add_interval(TimestampTz now, Interval* duration) {
  return call_pg([&]() noexcept {
    return DatumGetTimestampTz(DirectFunctionCall2(
        timestamptz_pl_interval, TimestampTzGetDatum(now), IntervalPGetDatum(duration)));
  });
}

GuardKey guard_key_arguments(FunctionCallInfo fcinfo) {
  GuardKey guard_key;
  guard_key.scope = text_argument(fcinfo, 0);
  guard_key.key = text_argument(fcinfo, 1);
  core::require_identifier("scope", text_view(guard_key.scope));
  core::require_identifier("key", text_view(guard_key.key));
  guard_key.scope_view = *text_view(guard_key.scope);
  guard_key.key_view = *text_view(guard_key.key);
  return guard_key;
}

}  // namespace idempotency::pg
