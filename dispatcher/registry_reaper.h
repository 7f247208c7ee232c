// Frees app registries replaced by a reload (or by shutdown) as soon as the
// last notification using one lets go of it, on a thread of its own.
//
// The last holder is often a fan-out finishing on an HTTP client's loop
// thread, and a registry owns HTTP clients that join their loop threads when
// destroyed: freeing it there would join a thread from itself. So the
// shared_ptr's deleter only hands the registry to the reaper's thread.
//
// Threads: Share() and WaitUntilAllFreed() from any thread (the dispatcher's
// main thread); the deleters run on whichever thread lets go last; the
// registries' destructors run on the reaper's own thread.
#pragma once

#include <memory>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "dispatcher/app_registry.h"

namespace herald::dispatcher {

class RegistryReaper {
 public:
  RegistryReaper();
  // Waits until every registry handed out is freed (logging every 10 s
  // while one is still held), then stops the thread.
  ~RegistryReaper();
  RegistryReaper(const RegistryReaper&) = delete;
  RegistryReaper& operator=(const RegistryReaper&) = delete;

  // `apps`, shared; freed on the reaper's thread once the last copy is gone.
  std::shared_ptr<const AppRegistry> Share(std::unique_ptr<const AppRegistry> apps);

  // Blocks until every registry handed out is freed, or `limit` passes.
  // True when all are.
  bool WaitUntilAllFreed(absl::Duration limit);

  // Registries handed out and not freed yet.
  int live() const;

 private:
  void Loop();

  mutable absl::Mutex mu_;
  std::vector<std::unique_ptr<const AppRegistry>> doomed_ ABSL_GUARDED_BY(mu_);
  int live_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;  // last: starts once the rest is built
};

}  // namespace herald::dispatcher
