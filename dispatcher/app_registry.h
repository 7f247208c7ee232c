// The configured apps, each with its provider, and the app_id → app lookup:
// an exact app_id wins; otherwise exactly one glob must match.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/config.h"
#include "providers/common/provider.h"

namespace herald::dispatcher {

struct App {
  std::string pattern;
  std::string type;
  std::unique_ptr<providers::Provider> provider;
};

struct AppMatch {
  const App* app = nullptr;  // null when unroutable
  std::string reason;        // why unroutable
};

class AppRegistry {
 public:
  // Builds every app's provider; the first bad app stops it with the file,
  // key and reason. Unknown keys are appended to `warnings`.
  static absl::StatusOr<std::unique_ptr<AppRegistry>> Build(
      const Config& config, const providers::ProviderEnv& env,
      std::vector<std::string>* warnings);

  // For tests: apps given directly.
  explicit AppRegistry(std::vector<App> apps);

  AppMatch Match(const std::string& app_id) const;
  const std::vector<App>& apps() const { return apps_; }

 private:
  std::vector<App> apps_;
};

}  // namespace herald::dispatcher
