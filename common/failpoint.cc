#include "common/failpoint.h"

#include <cstdlib>
#include <set>
#include <string>

#include "absl/strings/str_split.h"

namespace herald {
namespace {

const std::set<std::string, std::less<>>* Active() {
  static const auto* active = [] {
    auto* names = new std::set<std::string, std::less<>>();
    if (const char* env = std::getenv("HERALD_FAILPOINTS")) {
      for (absl::string_view name : absl::StrSplit(env, ',', absl::SkipEmpty())) {
        names->emplace(name);
      }
    }
    return names;
  }();
  return active;
}

}  // namespace

bool FailpointActive(absl::string_view name) {
  const auto* active = Active();
  return !active->empty() && active->count(name) > 0;
}

}  // namespace herald
