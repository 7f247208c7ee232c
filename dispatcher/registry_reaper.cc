#include "dispatcher/registry_reaper.h"

#include <utility>

#include "common/executor.h"
#include "common/log.h"

namespace herald::dispatcher {
namespace {
constexpr char kComponent[] = "dispatcher";
}  // namespace

RegistryReaper::RegistryReaper() : thread_([this] { Loop(); }) {}

RegistryReaper::~RegistryReaper() {
  while (!WaitUntilAllFreed(absl::Seconds(10))) {
    HERALD_LOG(kWarning, kComponent, "still waiting for ", live(),
               " app registry(ies) held by pushes in flight");
  }
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
}

std::shared_ptr<const AppRegistry> RegistryReaper::Share(std::unique_ptr<const AppRegistry> apps) {
  {
    absl::MutexLock lock(&mu_);
    ++live_;
  }
  return std::shared_ptr<const AppRegistry>(apps.release(), [this](const AppRegistry* gone) {
    absl::MutexLock lock(&mu_);
    doomed_.emplace_back(gone);
  });
}

bool RegistryReaper::WaitUntilAllFreed(absl::Duration limit) {
  absl::MutexLock lock(&mu_);
  auto all_freed = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return live_ == 0; };
  return AwaitMonotonic(&mu_, absl::Condition(&all_freed), limit);
}

int RegistryReaper::live() const {
  absl::MutexLock lock(&mu_);
  return live_;
}

void RegistryReaper::Loop() {
  while (true) {
    std::vector<std::unique_ptr<const AppRegistry>> batch;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]()
                       ABSL_SHARED_LOCKS_REQUIRED(mu_) { return stopping_ || !doomed_.empty(); };
      mu_.Await(absl::Condition(&ready));
      if (doomed_.empty()) return;  // stopping, and nothing left to free
      batch.swap(doomed_);
    }
    const int freed = static_cast<int>(batch.size());
    batch.clear();  // the registries' destructors, unlocked
    absl::MutexLock lock(&mu_);
    live_ -= freed;
  }
}

}  // namespace herald::dispatcher
