#include "glue/server_release.hpp"

#include "core/server_layout.hpp"

namespace idempotency::pg {
namespace {

bool layout_as_built = true;

}  // namespace

void check_server_release() noexcept {
  const char* setting = GetConfigOption("server_version_num", true, false);
  std::optional<int> running = core::parse_server_version_num(setting != nullptr ? setting : "");
  layout_as_built =
      running.has_value() && core::same_result_rel_info_layout(PG_VERSION_NUM, *running);
  if (layout_as_built) return;
  int server = running.value_or(0);
  ereport(WARNING,
          (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
           errmsg("idempotency was built against PostgreSQL %d.%d but the server runs %d.%d, "
                  "whose ResultRelInfo differs in size",
                  PG_VERSION_NUM / 10000, PG_VERSION_NUM % 10000, server / 10000, server % 10000),
           errdetail("Claims insert through SQL statements instead of directly into the heap."),
           errhint("Rebuild idempotency against PostgreSQL %d.%d's server headers and reinstall "
                   "it.",
                   server / 10000, server % 10000)));
}

bool server_lays_out_executor_state_as_built() { return layout_as_built; }

}  // namespace idempotency::pg
