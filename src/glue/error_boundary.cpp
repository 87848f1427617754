#include "glue/error_boundary.hpp"

#include "core/guard_error.hpp"

namespace idempotency::pg {
namespace {

// An exception's text, copied into static storage inside the catch block so
// that raising the ERROR afterwards allocates nothing and no exception object
// is alive when ereport long-jumps.
// The location is the throw site's (string literals: static storage), or
// unknown (nullptr file) for an exception that carries none.
struct PendingError {
  int sqlerrcode = 0;
  char message[2048] = {};
  char detail[2048] = {};
  char hint[1024] = {};
  core::SourceLocation location;
};

PendingError pending;

int sqlstate_to_errcode(const char* code) {
  return MAKE_SQLSTATE(code[0], code[1], code[2], code[3], code[4]);
}

void stage(int sqlerrcode, const char* message, const char* detail = nullptr,
           const char* hint = nullptr, core::SourceLocation location = {}) noexcept {
  pending.sqlerrcode = sqlerrcode;
  pending.location = location;
  copy_clipped(pending.message, sizeof pending.message, message);
  copy_clipped(pending.detail, sizeof pending.detail, detail);
  copy_clipped(pending.hint, sizeof pending.hint, hint);
}

// Sorts the exception in flight into either a PostgreSQL error to re-throw
// as it is, or a staged error. Must be called from inside a catch block.
ErrorData* classify_current_exception() noexcept {
  try {
    throw;
  } catch (const PgError& error) {
    return error.data();
  } catch (const core::GuardError& error) {
    stage(sqlstate_to_errcode(core::sqlstate_code(error.state())), error.what(),
          error.detail().c_str(), error.hint().c_str(), error.location());
  } catch (const std::bad_alloc&) {
    stage(ERRCODE_OUT_OF_MEMORY, "out of memory in idempotency");
  } catch (const std::exception& error) {
    stage(ERRCODE_INTERNAL_ERROR, "idempotency internal error", error.what());
  } catch (...) {
    stage(ERRCODE_INTERNAL_ERROR, "idempotency internal error: unknown exception");
  }
  return nullptr;
}

// ereport() spelled out, so that errfinish() gets the staged location
// (LOCATION: under VERBOSITY verbose, the server log's) instead of this one.
[[noreturn]] void raise_staged(int elevel) {
  const core::SourceLocation& where = pending.location;
  bool known = where.file != nullptr;
  if (errstart(elevel, TEXTDOMAIN)) {
    errcode(pending.sqlerrcode);
    errmsg("%s", pending.message);
    if (pending.detail[0]) errdetail("%s", pending.detail);
    if (pending.hint[0]) errhint("%s", pending.hint);
    errfinish(known ? where.file : __FILE__, known ? where.line : __LINE__,
              known ? where.function : __func__);
  }
  pg_unreachable();
}

}  // namespace

void copy_clipped(char* target, std::size_t size, const char* text) noexcept {
  if (text == nullptr) text = "";
  int length = pg_mbcliplen(text, static_cast<int>(strlen(text)), static_cast<int>(size) - 1);
  memcpy(target, text, length);
  target[length] = '\0';
}

const char* PgError::what() const noexcept {
  return data_ != nullptr && data_->message != nullptr ? data_->message : "PostgreSQL error";
}

ErrorData* run_catching_errors(void (*invoke)(void*), void* context) noexcept {
  MemoryContext caller_context = CurrentMemoryContext;
  ErrorData* volatile error = nullptr;
  PG_TRY();
  { invoke(context); }
  PG_CATCH();
  {
    MemoryContextSwitchTo(caller_context);
    error = CopyErrorData();
    FlushErrorState();
  }
  PG_END_TRY();
  return error;
}

Datum run_sql_function(Datum (*body)(FunctionCallInfo), FunctionCallInfo fcinfo) noexcept {
  ErrorData* postgres_error = nullptr;
  try {
    return body(fcinfo);
  } catch (...) {
    postgres_error = classify_current_exception();
  }
  // Every C++ frame of the body is gone here: raising is safe.
  if (postgres_error != nullptr) ReThrowError(postgres_error);
  raise_staged(ERROR);
}

void run_worker_main(void (*body)(Datum), Datum argument) noexcept {
  ErrorData* postgres_error = nullptr;
  try {
    body(argument);
    return;
  } catch (...) {
    postgres_error = classify_current_exception();
  }
  // A worker has no transaction to abort to: exit, and let the postmaster
  // restart it after its restart interval.
  if (postgres_error != nullptr) {
    stage(postgres_error->sqlerrcode, postgres_error->message, postgres_error->detail,
          postgres_error->hint,
          {postgres_error->filename, postgres_error->lineno, postgres_error->funcname});
  }
  raise_staged(FATAL);
}

}  // namespace idempotency::pg
