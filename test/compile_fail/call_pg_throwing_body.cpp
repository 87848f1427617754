// Must not compile: a call_pg body that is not noexcept could throw a C++
// exception inside PG_TRY. scripts/test.sh compiles this file and expects the
// error_boundary.hpp static_assert; with -DBODY_IS_NOEXCEPT it must compile.
#include "glue/error_boundary.hpp"

#include <string>

#ifdef BODY_IS_NOEXCEPT
#define BODY_SPECIFIER noexcept
#else
#define BODY_SPECIFIER
#endif

int length_of_a_string_built_inside_pg_try() {
  return idempotency::pg::call_pg([]() BODY_SPECIFIER {
    return static_cast<int>(std::string("may throw std::bad_alloc").size());
  });
}
