// Whether a library built against one PostgreSQL release may allocate
// ResultRelInfo (the direct claim path's executor state) on a server running
// another release of the same major.
//
// PostgreSQL's minor releases 15.9, 16.5 and 17.1 (2024-11-14) changed
// ResultRelInfo's size inside a minor series; 15.10, 16.6 and 17.2
// (2024-11-21, release notes: "Repair ABI break for extensions that work
// with struct ResultRelInfo") restored the previous size. A library built against one
// of those three minors and loaded on another minor of its series (or the
// reverse) would hand the server a struct of the wrong size. 18 and 19 have
// had no such break.
#pragma once
#include "core/pure_cpp.hpp"

#include <optional>
#include <string_view>

namespace idempotency::core {

// True when `built` and `running` (PG_VERSION_NUM form: 170002 for 17.2)
// are the same major and both or neither are the minor that changed the
// layout. A different major (which PG_MODULE_MAGIC already refuses) is false.
bool same_result_rel_info_layout(int built, int running);

// server_version_num as the GUC shows it ("170002"), or nullopt when it is
// not a version number of PostgreSQL 10 or later.
std::optional<int> parse_server_version_num(std::string_view text);

}  // namespace idempotency::core
