// Sanitizer builds: the sanitizer's allocator serves the process, so there
// is no tcmalloc to tune.
#include "common/allocator.h"

namespace herald {

void TuneAllocator() {}

}  // namespace herald
