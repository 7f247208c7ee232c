// The config loader: any YAML text ends in a config or a clear error, and
// every app's provider factory takes what the loader let through.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/config.h"
#include "dispatcher/app_registry.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto config = herald::ParseConfig(text, "fuzz.yaml");
  if (!config.ok()) return 0;
  // Building an app reads its keys and files: a few apps, not hundreds, per
  // input.
  if ((*config)->apps.size() > 8) return 0;
  herald::providers::ProviderEnv env;  // no HTTP client at all: nothing is sent
  std::vector<std::string> warnings;
  auto registry = herald::dispatcher::AppRegistry::Build(**config, env, nullptr, &warnings);
  (void)registry;
  return 0;
}
