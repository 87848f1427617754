// Breaks the layering on purpose: scripts/check-layering.sh must refuse it.
#pragma once
#include "sql_functions/claim.hpp"
