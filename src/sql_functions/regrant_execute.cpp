// regrant_execute(): the 1.0 -> 1.1 update script re-creates lookup() and
// claim_or_lookup() and uses this to give their callers back EXECUTE.
//
// PostgreSQL records every privilege an extension script grants as the
// extension's initial privileges (pg_init_privs), which pg_dump leaves out
// because CREATE EXTENSION recreates them. These grants are the DBA's own
// (grant_client, or a plain GRANT), so they are made as the DBA made them:
// outside that recording, and pg_dump keeps dumping them.
#include <string>

#include "core/guard_error.hpp"

#include "glue/error_boundary.hpp"
#include "glue/prepared_statement.hpp"

extern "C" {
#include "commands/extension.h"
#include "utils/regproc.h"
}

using namespace idempotency;
using namespace idempotency::pg;

namespace {

std::string grant_statement(Oid function, Oid grantee, bool grantable) {
  const char* function_name =
      call_pg([&]() noexcept { return format_procedure_qualified(function); });
  const char* grantee_name = grantee == InvalidOid ? "PUBLIC" : call_pg([&]() noexcept {
    return quote_identifier(GetUserNameFromId(grantee, false));
  });
  return std::string("GRANT EXECUTE ON FUNCTION ") + function_name + " TO " + grantee_name +
         (grantable ? " WITH GRANT OPTION" : "");
}

}  // namespace

// Arguments: function regprocedure, grantee oid (0: PUBLIC), grantable boolean.
IDEMPOTENCY_SQL_FUNCTION(idempotency_regrant_execute) {
  if (!creating_extension) {
    throw core::GuardError(core::SqlState::kObjectNotInPrerequisiteState,
                           "regrant_execute() only runs inside ALTER EXTENSION idempotency UPDATE");
  }
  std::string statement = grant_statement(PG_GETARG_OID(0), PG_GETARG_OID(1), PG_GETARG_BOOL(2));
  creating_extension = false;
  try {
    call_pg([&]() noexcept {
      connect_spi();
      if (SPI_execute(statement.c_str(), false, 0) != SPI_OK_UTILITY) {
        elog(ERROR, "idempotency: could not run %s", statement.c_str());
      }
      SPI_finish();
    });
  } catch (...) {
    creating_extension = true;
    throw;
  }
  creating_extension = true;
  PG_RETURN_VOID();
}
