// The arguments of the batch functions (claim_guards, record_outcomes): the
// scope and its keys, the arrays of one entry per key, and the order the keys
// are taken in.
#pragma once
#include <vector>

#include "core/input_validation.hpp"

#include "glue/postgres.hpp"

namespace idempotency::pg {

// A one-dimensional array argument's entries (22023 for more dimensions,
// naming `name`), detoasted; nullopt for a NULL array. A NULL entry is
// nullptr (text, jsonb) or nullopt (bigint).
std::optional<std::vector<text*>> text_array_argument(FunctionCallInfo fcinfo, int index,
                                                      std::string_view name);
std::optional<std::vector<Jsonb*>> jsonb_array_argument(FunctionCallInfo fcinfo, int index,
                                                        std::string_view name);
std::optional<std::vector<std::optional<std::int64_t>>> bigint_array_argument(
    FunctionCallInfo fcinfo, int index, std::string_view name);

// Arguments 0 and 1: the scope (22004 for NULL, 22023 for empty or too long)
// and the keys, a one-dimensional text[] (22004 for NULL, or a NULL key) of
// at most core::kMaxBatchKeys (54000) valid keys (22023).
struct BatchKeys {
  text* scope = nullptr;
  std::string_view scope_view;
  std::vector<text*> keys;
};
BatchKeys batch_key_arguments(FunctionCallInfo fcinfo);

// The per-key values of an optional array argument of a batch: the array, its
// length checked against the batch's `count` keys (22023), or `fallback` for
// every key when the argument is NULL. (`fallback` does not decide T.)
template <typename T>
std::vector<T> per_key_values(std::optional<std::vector<T>> values, std::string_view name,
                              std::size_t count, typename std::vector<T>::value_type fallback) {
  if (!values) return std::vector<T>(count, fallback);
  core::require_batch_length(name, values->size(), count);
  return std::move(*values);
}

// Positions of `keys` in the order a batch takes them: by key bytes (the same
// order in every backend, so two batches racing on overlapping keys wait for
// each other's row locks in one order and never deadlock), the first
// occurrence of a key first.
std::vector<std::size_t> sorted_key_order(const std::vector<text*>& keys);

}  // namespace idempotency::pg
