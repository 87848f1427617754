#include "glue/batch_arguments.hpp"

#include <algorithm>
#include <numeric>
#include <string>

#include "glue/arguments.hpp"
#include "glue/error_boundary.hpp"

namespace idempotency::pg {
namespace {

struct ArrayEntries {
  Datum* values = nullptr;
  bool* nulls = nullptr;
  int count = 0;
};

// The entries of argument `index`, an array of `element_type`.
std::optional<ArrayEntries> array_entries(FunctionCallInfo fcinfo, int index, Oid element_type,
                                          std::string_view name) {
  if (PG_ARGISNULL(index)) return std::nullopt;
  ArrayType* array = call_pg([&]() noexcept { return PG_GETARG_ARRAYTYPE_P(index); });
  if (ARR_NDIM(array) > 1) {
    throw core::GuardError(core::SqlState::kInvalidParameterValue,
                           std::string(name) + " must be a one-dimensional array");
  }
  ArrayEntries entries;
  call_pg([&]() noexcept {
    int16 length = 0;
    bool by_value = false;
    char alignment = 0;
    get_typlenbyvalalign(element_type, &length, &by_value, &alignment);
    deconstruct_array(array, element_type, length, by_value, alignment, &entries.values,
                      &entries.nulls, &entries.count);
  });
  return entries;
}

// Each entry converted by `convert` (a detoasting DatumGet...), `null` for NULL ones.
template <typename Entry, typename Convert>
std::optional<std::vector<Entry>> converted_entries(FunctionCallInfo fcinfo, int index,
                                                    Oid element_type, std::string_view name,
                                                    Entry null, Convert convert) {
  std::optional<ArrayEntries> entries = array_entries(fcinfo, index, element_type, name);
  if (!entries) return std::nullopt;
  std::vector<Entry> converted(entries->count, null);
  for (int entry = 0; entry < entries->count; ++entry) {
    if (entries->nulls[entry]) continue;
    Datum value = entries->values[entry];
    converted[entry] = call_pg([&]() noexcept { return convert(value); });
  }
  return converted;
}

}  // namespace

std::optional<std::vector<text*>> text_array_argument(FunctionCallInfo fcinfo, int index,
                                                      std::string_view name) {
  return converted_entries<text*>(fcinfo, index, TEXTOID, name, nullptr,
                                  [](Datum value) noexcept { return DatumGetTextPP(value); });
}

std::optional<std::vector<Jsonb*>> jsonb_array_argument(FunctionCallInfo fcinfo, int index,
                                                        std::string_view name) {
  return converted_entries<Jsonb*>(fcinfo, index, JSONBOID, name, nullptr,
                                   [](Datum value) noexcept { return DatumGetJsonbP(value); });
}

std::optional<std::vector<std::optional<std::int64_t>>> bigint_array_argument(
    FunctionCallInfo fcinfo, int index, std::string_view name) {
  return converted_entries<std::optional<std::int64_t>>(
      fcinfo, index, INT8OID, name, std::nullopt,
      [](Datum value) noexcept { return std::optional<std::int64_t>(DatumGetInt64(value)); });
}

BatchKeys batch_key_arguments(FunctionCallInfo fcinfo) {
  BatchKeys batch;
  batch.scope = text_argument(fcinfo, 0);
  core::require_identifier("scope", text_view(batch.scope));
  batch.scope_view = *text_view(batch.scope);
  std::optional<std::vector<text*>> keys = text_array_argument(fcinfo, 1, "keys");
  core::require_not_null("keys", !keys);
  batch.keys = std::move(*keys);
  core::require_batch_size(batch.keys.size());
  for (text* key : batch.keys) core::require_identifier("key", text_view(key));
  return batch;
}

std::vector<std::size_t> sorted_key_order(const std::vector<text*>& keys) {
  std::vector<std::size_t> order(keys.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t left, std::size_t right) {
    return *text_view(keys[left]) < *text_view(keys[right]);
  });
  return order;
}

}  // namespace idempotency::pg
