// The (scope, key) pair every client function takes as its first two
// arguments, read and validated in one place.
#pragma once
#include "pg/postgres.hpp"

namespace idempotency::pg {

struct GuardKey {
  text* scope = nullptr;
  text* key = nullptr;
  std::string_view scope_view;
  std::string_view key_view;
};

// Arguments 0 and 1; raises 22004 for NULL and 22023 for empty or too long.
GuardKey guard_key_arguments(FunctionCallInfo fcinfo);

}  // namespace idempotency::pg
