// Included first by every header in src/core: the core is plain C++17 and is
// unit-tested without a server, so PostgreSQL's macros (Min, Max, printf, ...)
// must never leak into it.
#pragma once

#ifdef POSTGRES_H
#error "src/core headers must be included before postgres.h"
#endif
