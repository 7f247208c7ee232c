// The services run on tcmalloc (gperftools). Its defaults let per-thread
// caches grow to 32 MB in all and give freed pages back to the system
// slowly; under steady load the bridge's RSS crept up by ~8 MB over ten
// minutes that way. TuneAllocator() caps the thread caches at 2 MB in all
// (tcmalloc still lets each thread keep about 0.5 MB, so with many threads
// the total is somewhat higher) and returns free pages sooner. The
// TCMALLOC_MAX_TOTAL_THREAD_CACHE_BYTES and TCMALLOC_RELEASE_RATE environment variables still win
// where set.
#pragma once

namespace herald {

void TuneAllocator();

}  // namespace herald
