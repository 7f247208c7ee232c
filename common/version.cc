#include "common/version.h"

#include "common/metrics.h"

namespace herald {

void ExportBuildInfo() {
  Metrics::Global()
      .GetGauge("herald_build_info", "Always 1; its label says which Herald is running.",
                Labels({{"version", kVersion}}))
      ->Set(1);
}

}  // namespace herald
