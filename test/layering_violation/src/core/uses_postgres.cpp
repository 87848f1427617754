// Breaks the layering on purpose: scripts/check-layering.sh must refuse it
// (the core is tested without a server, so no PostgreSQL header).
#include "utils/elog.h"
