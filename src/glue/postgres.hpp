// The only way PostgreSQL-facing code includes PostgreSQL: after the standard
// library (PostgreSQL's macros would otherwise rewrite it) and with C linkage.
#pragma once

// The standard library and the pure core before postgres.h (the core's headers
// refuse to compile after it).
#include <cstddef>
#include <cstdint>
#include <exception>
#include <new>
#include <optional>
#include <string_view>
#include <type_traits>

#include "core/claim_wait.hpp"
#include "core/database_list.hpp"
#include "core/guard_conflicts.hpp"
#include "core/guard_error.hpp"
#include "core/guard_rules.hpp"
#include "core/guard_status.hpp"
#include "core/input_validation.hpp"
#include "core/purge_schedule.hpp"
#include "core/scope_patterns.hpp"
#include "core/sql_state.hpp"

extern "C" {
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/datum.h"
#include "utils/elog.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
// PostgreSQL 19 pruned indirect includes: funcapi.h no longer brings
// tuplestore_putvalues(), nor do the headers above ConditionVariable.
#include "storage/condition_variable.h"
#include "utils/tuplestore.h"
}
