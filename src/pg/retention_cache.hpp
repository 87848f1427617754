// The ttl of each scope's retention policy, cached per backend (see
// table_watch.hpp), so a claim finds its ttl without a query.
#pragma once
#include "pg/postgres.hpp"

namespace idempotency::pg {

// The policy ttl of `scope`, if it has one. Inside a guard store session: the
// cache may have to load.
std::optional<Interval> retention_policy_ttl(std::string_view scope);

}  // namespace idempotency::pg
