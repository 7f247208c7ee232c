#include "providers/common/fit_json.h"

#include <utility>

#include "absl/strings/match.h"

#include "providers/common/json.h"
#include "providers/common/utf8.h"

namespace herald::providers {
namespace {

using Value = rapidjson::Value;
constexpr int kMaxFitDepth = 600;

// The member at `path`, or null.
Value* Find(Value& root, const std::vector<std::string>& path) {
  Value* v = &root;
  for (const std::string& name : path) {
    if (!v->IsObject()) return nullptr;
    auto it = v->FindMember(Value(rapidjson::StringRef(name.data(), name.size())));
    if (it == v->MemberEnd()) return nullptr;
    v = &it->value;
  }
  return v;
}

bool Drop(Value& root, const std::vector<std::string>& path) {
  if (path.empty()) return false;
  std::vector<std::string> parent_path(path.begin(), path.end() - 1);
  Value* parent = Find(root, parent_path);
  if (parent == nullptr || !parent->IsObject()) return false;
  return parent->EraseMember(Value(rapidjson::StringRef(path.back().data(), path.back().size())));
}

// Shortens the string `field` inside `doc` to the longest prefix of whole
// characters plus "…" for which `doc` fits; "…" alone when none does.
std::optional<std::string> Cut(rapidjson::Document& doc, Value& field, size_t max_bytes) {
  std::string base(View(field));
  if (absl::EndsWith(base, kEllipsis)) base.resize(base.size() - kEllipsis.size());
  std::vector<size_t> ends;  // ends[k] = bytes of the first k characters
  for (size_t i = 0; i < base.size(); ++i) {
    if (!IsUtf8Continuation(base[i])) ends.push_back(i);
  }
  ends.push_back(base.size());
  auto render = [&](size_t chars) {
    field = StringValue(base.substr(0, ends[chars]) + std::string(kEllipsis), doc.GetAllocator());
    return Serialize(doc);
  };
  // The size grows with the characters kept: the largest count that fits.
  std::optional<std::string> best;
  size_t best_chars = 0;
  size_t lo = 0, hi = ends.size() - 1;
  while (lo <= hi) {
    const size_t mid = lo + (hi - lo) / 2;
    std::string candidate = render(mid);
    if (candidate.size() <= max_bytes) {
      best = std::move(candidate);
      best_chars = mid;
      lo = mid + 1;
    } else {
      if (mid == 0) break;
      hi = mid - 1;
    }
  }
  render(best ? best_chars : 0);
  return best;
}

}  // namespace

// True if `v` nests containers more than `levels` deep (iterative: the
// point is not to recurse into what is too deep).
bool TooDeep(const Value& root, int levels) {
  std::vector<std::pair<const Value*, int>> todo = {{&root, 0}};
  while (!todo.empty()) {
    auto [v, depth] = todo.back();
    todo.pop_back();
    if (!v->IsObject() && !v->IsArray()) continue;
    if (depth >= levels) return true;
    if (v->IsObject()) {
      for (const auto& m : v->GetObject()) todo.push_back({&m.value, depth + 1});
    } else {
      for (const auto& e : v->GetArray()) todo.push_back({&e, depth + 1});
    }
  }
  return false;
}

std::optional<std::string> FitJsonObject(const Value& original, size_t max_bytes,
                                         absl::Span<const FitStep> steps) {
  // Copying and serializing recurse: refuse what nests deeper than any
  // notification does.
  if (!original.IsObject() || TooDeep(original, kMaxFitDepth)) return std::nullopt;
  std::vector<const FitStep*> drops;  // applied so far, to the original
  while (true) {
    rapidjson::Document doc;
    doc.CopyFrom(original, doc.GetAllocator());
    for (const FitStep* d : drops) Drop(doc, d->path);
    std::string text = Serialize(doc);
    if (text.size() <= max_bytes) return text;
    bool dropped_more = false;
    for (const FitStep& step : steps) {
      if (step.action == FitStep::Action::kDrop) {
        bool applied = false;
        for (const FitStep* d : drops) applied = applied || d == &step;
        if (applied || Find(doc, step.path) == nullptr) continue;
        drops.push_back(&step);
        dropped_more = true;
        break;  // start again from the original text
      }
      Value* field = Find(doc, step.path);
      if (field == nullptr || !field->IsString()) continue;
      if (std::optional<std::string> fitted = Cut(doc, *field, max_bytes)) return fitted;
    }
    if (!dropped_more) return std::nullopt;
  }
}

std::vector<FitStep> NotificationFitSteps(const std::vector<std::string>& prefix) {
  auto at = [&prefix](std::vector<std::string> rest) {
    std::vector<std::string> path = prefix;
    path.insert(path.end(), rest.begin(), rest.end());
    return path;
  };
  return {
      {FitStep::Action::kCut, at({"content", "body"})},
      {FitStep::Action::kCut, at({"sender_display_name"})},
      {FitStep::Action::kCut, at({"room_name"})},
      {FitStep::Action::kCut, at({"room_alias"})},
      {FitStep::Action::kDrop, at({"content"})},
  };
}

}  // namespace herald::providers
