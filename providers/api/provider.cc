#include "providers/api/provider.h"

#include <map>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"

namespace herald::providers {
namespace {

struct Registry {
  absl::Mutex mu;
  std::map<std::string, ProviderFactory> factories ABSL_GUARDED_BY(mu);
  std::vector<std::pair<const absl::Flag<std::string>*, ProviderCommand>> commands
      ABSL_GUARDED_BY(mu);
};

Registry& GetRegistry() {
  static Registry* registry = new Registry();
  return *registry;
}

}  // namespace

const char* OutcomeKindName(Outcome::Kind kind) {
  switch (kind) {
    case Outcome::Kind::kDelivered:
      return "delivered";
    case Outcome::Kind::kRejected:
      return "rejected";
    case Outcome::Kind::kRetry:
      return "retry";
    case Outcome::Kind::kFailed:
      return "failed";
    case Outcome::Kind::kSkipped:
      return "skipped";
    case Outcome::Kind::kLimited:
      return "limited";
    case Outcome::Kind::kDropped:
      return "dropped";
  }
  return "?";
}

void ProviderRegistry::Register(const std::string& type, ProviderFactory factory) {
  Registry& r = GetRegistry();
  absl::MutexLock lock(&r.mu);
  r.factories[type] = std::move(factory);
}

const ProviderFactory* ProviderRegistry::Find(const std::string& type) {
  Registry& r = GetRegistry();
  absl::MutexLock lock(&r.mu);
  auto it = r.factories.find(type);
  return it == r.factories.end() ? nullptr : &it->second;
}

std::vector<std::string> ProviderRegistry::Types() {
  Registry& r = GetRegistry();
  absl::MutexLock lock(&r.mu);
  std::vector<std::string> out;
  out.reserve(r.factories.size());
  for (const auto& [type, factory] : r.factories) out.push_back(type);
  return out;
}

void ProviderRegistry::RegisterCommand(const absl::Flag<std::string>* app_id_flag,
                                       ProviderCommand command) {
  Registry& r = GetRegistry();
  absl::MutexLock lock(&r.mu);
  r.commands.emplace_back(app_id_flag, std::move(command));
}

std::optional<ProviderRegistry::CommandCall> ProviderRegistry::RequestedCommand() {
  Registry& r = GetRegistry();
  absl::MutexLock lock(&r.mu);
  for (const auto& [flag, command] : r.commands) {
    std::string app_id = absl::GetFlag(*flag);
    if (!app_id.empty()) {
      return CommandCall{std::string(absl::GetFlagReflectionHandle(*flag).Name()),
                         std::move(app_id), command};
    }
  }
  return std::nullopt;
}

}  // namespace herald::providers
