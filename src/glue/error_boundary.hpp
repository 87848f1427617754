// The two-way boundary between PostgreSQL's longjmp errors and C++ exceptions.
//
// PostgreSQL -> C++: call_pg() runs a PostgreSQL call under PG_TRY and turns an
// ERROR into a PgError exception, so the C++ frames above it unwind normally
// instead of being long-jumped over.
//
// C++ -> PostgreSQL: every SQL-callable function is declared with
// IDEMPOTENCY_SQL_FUNCTION, whose body runs inside run_sql_function(). That
// catches every exception, lets the C++ frames unwind, and only then raises the
// ERROR, so no exception ever reaches PostgreSQL code.
#pragma once
#include "glue/postgres.hpp"

namespace idempotency::pg {

// A PostgreSQL ERROR in flight through C++ frames. The ErrorData lives in the
// memory context that was current when call_pg() was entered.
class PgError final : public std::exception {
 public:
  explicit PgError(ErrorData* data) noexcept : data_(data) {}
  ErrorData* data() const noexcept { return data_; }
  const char* what() const noexcept override;

 private:
  ErrorData* data_;
};

// Runs invoke(context) under PG_TRY. Returns the ERROR it raised, copied into
// the caller's memory context, or nullptr. The one place that uses PG_TRY.
// noexcept: a C++ exception thrown inside PG_TRY would leave PostgreSQL's
// error handler pointing at a dead frame; terminating is the safe outcome.
ErrorData* run_catching_errors(void (*invoke)(void*), void* context) noexcept;

// Runs `call`, which may raise a PostgreSQL ERROR, and throws PgError if it
// does. Its result must be trivially copyable (Datum, pointers, numbers), and
// `call` itself must hold nothing with a destructor: both live across a longjmp.
// `call` must be declared noexcept (`[&]() noexcept { ... }`): a C++ exception
// thrown inside PG_TRY would terminate the backend, so a body that may throw
// does not compile.
template <typename Call>
auto call_pg(Call&& call) -> decltype(call()) {
  using Result = decltype(call());
  static_assert(std::is_nothrow_invocable_v<Call&>,
                "call_pg bodies must be noexcept: no C++ exception may be thrown inside PG_TRY");
  static_assert(std::is_void_v<Result> || std::is_trivially_copyable_v<Result>,
                "call_pg results must be trivially copyable");
  if constexpr (std::is_void_v<Result>) {
    ErrorData* error = run_catching_errors(
        [](void* context) { (*static_cast<std::remove_reference_t<Call>*>(context))(); }, &call);
    if (error != nullptr) throw PgError(error);
  } else {
    struct Frame {
      std::remove_reference_t<Call>* call;
      Result result;
    } frame{&call, Result{}};
    ErrorData* error = run_catching_errors(
        [](void* context) {
          auto* target = static_cast<Frame*>(context);
          target->result = (*target->call)();
        },
        &frame);
    if (error != nullptr) throw PgError(error);
    return frame.result;
  }
}

// Copies `text` into a fixed buffer, cut at a character boundary of the
// database encoding (never in the middle of a multi-byte character).
void copy_clipped(char* target, std::size_t size, const char* text) noexcept;

// Runs an entry point body and converts any exception into an ERROR raised
// after the body's frames are gone. Never throws.
Datum run_sql_function(Datum (*body)(FunctionCallInfo), FunctionCallInfo fcinfo) noexcept;

// Converts any exception escaping `body` into a FATAL for background worker
// mains, where an ERROR has no transaction to abort to.
void run_worker_main(void (*body)(Datum), Datum argument) noexcept;

}  // namespace idempotency::pg

// Declares a SQL-callable function `name` whose body (the block that follows)
// runs inside the error boundary.
#define IDEMPOTENCY_SQL_FUNCTION(name)                               \
  static Datum name##_body(FunctionCallInfo fcinfo);                 \
  extern "C" {                                                       \
  PG_FUNCTION_INFO_V1(name);                                         \
  }                                                                  \
  Datum name(PG_FUNCTION_ARGS) {                                     \
    return ::idempotency::pg::run_sql_function(name##_body, fcinfo); \
  }                                                                  \
  static Datum name##_body(FunctionCallInfo fcinfo)
