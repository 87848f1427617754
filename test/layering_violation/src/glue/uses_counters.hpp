// Breaks the layering on purpose: scripts/check-layering.sh must refuse it.
#pragma once
#include "counters/scope_table.hpp"
