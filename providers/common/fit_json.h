// Making a JSON payload fit a provider's size limit by shortening its text
// fields in a set order (Web Push, UnifiedPush). Pure: no I/O.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "absl/types/span.h"
#include "rapidjson/document.h"

namespace herald::providers {

// One way of making a payload smaller. `path` names members from the top
// object, e.g. {"content", "body"}.
struct FitStep {
  enum class Action {
    kCut,   // shorten the string at `path` (whole UTF-8 characters, then "…")
    kDrop,  // remove the member at `path`
  };
  Action action;
  std::vector<std::string> path;
};

// The compact serialization of `doc` (a JSON object), made at most
// `max_bytes` long by the steps in order, stopping at the first that makes it
// fit: a cut keeps the longest prefix that fits (or cuts to "…" alone and
// goes on). A drop starts the cuts again from the original text without that
// member, so fields cut before it keep what now has room. Steps whose path is
// absent or of another type are skipped. Sizes are those of the real
// serialization (escapes count). nullopt when nothing fits.
std::optional<std::string> FitJsonObject(const rapidjson::Value& doc, size_t max_bytes,
                                         absl::Span<const FitStep> steps);

// The usual order for a Matrix notification object: content.body, then the
// names (sender_display_name, room_name, room_alias), then drop content.
// `prefix` is the path of the notification inside the payload ({} when the
// payload is the notification; {"notification"} for a notify body).
std::vector<FitStep> NotificationFitSteps(const std::vector<std::string>& prefix);

}  // namespace herald::providers
