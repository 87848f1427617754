// The array arguments of the batch functions (claim_guards, record_outcomes)
// and the order their keys are taken in.
#pragma once
#include "glue/postgres.hpp"

#include <vector>

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

// Positions of `keys` in the order a batch takes them: by key bytes (the same
// order in every backend, so two batches racing on overlapping keys wait for
// each other's row locks in one order and never deadlock), the first
// occurrence of a key first.
std::vector<std::size_t> sorted_key_order(const std::vector<text*>& keys);

}  // namespace idempotency::pg
