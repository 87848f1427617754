// Per-role scope restrictions (idempotency.scope_access). A role listed there,
// directly or through a role it has the privileges of, may only use scopes
// matching its patterns; roles not listed, and superusers, are unrestricted.
//
// The rows are cached per backend (see table_watch.hpp). The common case, no
// restrictions at all, costs one check.
#pragma once
#include "glue/postgres.hpp"
#include "guards/guard_store.hpp"

namespace idempotency::pg {

// Raises 42501 if the caller of the session may not use `scope`.
void require_scope_access(const GuardStoreSession& session, std::string_view scope);

// Whether the caller may see what concerns `scope` (idempotency.counters),
// without raising; std::nullopt stands for rows that aggregate scopes, which
// only unrestricted callers see.
bool may_see_scope(const GuardStoreSession& session, std::optional<std::string_view> scope);

// Replaces the role's patterns; deletes them all for an empty list.
void replace_scope_patterns(Oid role, ArrayType* patterns);
// Removes the role's restriction; false if it had none.
bool remove_scope_patterns(Oid role);

}  // namespace idempotency::pg
