// Breaks the layering on purpose: scripts/check-layering.sh must refuse it
// (a folder that is in no layer, whatever it includes).
#pragma once
#include "core/guard_rules.hpp"
