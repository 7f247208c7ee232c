// Faults that tests inject into the real binaries, to show how Herald
// answers failures no input can cause (a failed random source, encryption).
// Named in HERALD_FAILPOINTS (comma-separated) when the process starts;
// nothing is active otherwise, and a check is one relaxed load.
#pragma once

#include "absl/strings/string_view.h"

namespace herald {

// True when `name` is listed in HERALD_FAILPOINTS.
bool FailpointActive(absl::string_view name);

}  // namespace herald
