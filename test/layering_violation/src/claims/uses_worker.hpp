// Breaks the layering on purpose: scripts/check-layering.sh must refuse it
// (claims and worker are siblings: neither includes the other).
#pragma once
#include "worker/worker_settings.hpp"
