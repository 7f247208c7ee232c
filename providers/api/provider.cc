#include "providers/api/provider.h"

#include <map>

#include "absl/synchronization/mutex.h"

namespace herald::providers {
namespace {

struct Registry {
  absl::Mutex mu;
  std::map<std::string, ProviderFactory> factories ABSL_GUARDED_BY(mu);
  std::map<std::string, ProviderCommand> commands ABSL_GUARDED_BY(mu);
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
  for (const auto& [type, factory] : r.factories) out.push_back(type);
  return out;
}

void ProviderRegistry::RegisterCommand(const std::string& name, ProviderCommand command) {
  Registry& r = GetRegistry();
  absl::MutexLock lock(&r.mu);
  r.commands[name] = std::move(command);
}

const ProviderCommand* ProviderRegistry::FindCommand(const std::string& name) {
  Registry& r = GetRegistry();
  absl::MutexLock lock(&r.mu);
  auto it = r.commands.find(name);
  return it == r.commands.end() ? nullptr : &it->second;
}

std::vector<std::string> ProviderRegistry::Commands() {
  Registry& r = GetRegistry();
  absl::MutexLock lock(&r.mu);
  std::vector<std::string> out;
  for (const auto& [name, command] : r.commands) out.push_back(name);
  return out;
}

}  // namespace herald::providers
