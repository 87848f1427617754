#include "core/input_validation.hpp"
#include "pg/guard_key.hpp"
#include "pg/arguments.hpp"

namespace idempotency::pg {

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
