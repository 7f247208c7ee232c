// Which Herald this is: --version on both binaries and the
// herald_build_info{version} metric.
#pragma once

namespace herald {

inline constexpr char kVersion[] = "0.14.0-dev";

// Sets herald_build_info{version="..."} 1 in the global metrics.
void ExportBuildInfo();

}  // namespace herald
