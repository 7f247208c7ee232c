// Minimal structured logging to stderr. Never log a full pushkey or a
// credential: pass pushkeys through RedactPushkey().
#pragma once

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace herald {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

// Sets the lowest level written (default kInfo). Thread-safe.
void SetLogLevel(LogLevel level);
// Parses "debug", "info", "warning"/"warn", "error"; false if unknown.
bool ParseLogLevel(absl::string_view text, LogLevel* out);
bool LogEnabled(LogLevel level);
// How lines are written: text (the default) or one JSON object per line
// (log.format: json). Thread-safe.
enum class LogFormat { kText, kJson };
void SetLogFormat(LogFormat format);
// Writes one line: "2026-11-28T11:40:00.123Z INFO component: message", or
// {"time":"2026-11-28T11:40:00.123Z","level":"INFO","component":"...","message":"..."}.
void LogLine(LogLevel level, absl::string_view component, absl::string_view message);

// A short, non-secret stand-in for a pushkey: enough to correlate log lines,
// not enough to push to the device. URLs keep their scheme and host only.
std::string RedactPushkey(absl::string_view pushkey);

}  // namespace herald

#define HERALD_LOG(level, component, ...)                                                   \
  do {                                                                                      \
    if (::herald::LogEnabled(::herald::LogLevel::level)) {                                  \
      ::herald::LogLine(::herald::LogLevel::level, component, ::absl::StrCat(__VA_ARGS__)); \
    }                                                                                       \
  } while (0)
