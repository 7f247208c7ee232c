// JOSE JSON parsing shared by signing and (test-only) verification.
#pragma once

#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "rapidjson/document.h"

namespace herald::providers::jose {

// Parses a JOSE header / claims set: a JSON object with unique member names
// (RFC 7515 section 4 allows rejecting duplicates; doing so avoids parsers
// disagreeing on which "alg" counts).
std::optional<rapidjson::Document> ParseJsonObject(absl::string_view text);
std::optional<std::string> StringMember(const rapidjson::Document& doc, const char* name);

}  // namespace herald::providers::jose
