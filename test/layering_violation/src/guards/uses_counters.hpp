// Breaks the layering on purpose: scripts/check-layering.sh must refuse it
// (guards and counters are siblings: neither includes the other).
#pragma once
#include "counters/scope_table.hpp"
