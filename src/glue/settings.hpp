// The extension's GUCs, as read by the rest of the code.
#pragma once
#include "glue/postgres.hpp"

namespace idempotency::pg {

// idempotency.max_outcome_size, in bytes.
extern int max_outcome_size_bytes;
// idempotency.direct_access: false makes claims, reads and the purge run their
// SQL statements, visible to executor hooks (pgaudit, auto_explain,
// pg_stat_statements.track = all), instead of the direct heap paths.
extern bool direct_access;

void define_client_settings();

// The default ttl as an interval of plain seconds (no days or months, so it
// is the same length across daylight-saving changes).
Interval default_ttl_interval();

}  // namespace idempotency::pg
