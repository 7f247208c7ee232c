#include "common/allocator.h"

#include <gperftools/malloc_extension.h>

#include <cstdlib>

namespace herald {

void TuneAllocator() {
  MallocExtension* malloc = MallocExtension::instance();
  if (std::getenv("TCMALLOC_MAX_TOTAL_THREAD_CACHE_BYTES") == nullptr) {
    malloc->SetNumericProperty("tcmalloc.max_total_thread_cache_bytes", 2 << 20);
  }
  if (std::getenv("TCMALLOC_RELEASE_RATE") == nullptr) {
    malloc->SetMemoryReleaseRate(10.0);
  }
}

}  // namespace herald
