#include "common/log.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace herald {
namespace {

std::atomic<int> g_min_level{static_cast<int>(LogLevel::kInfo)};

const char* LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "DEBUG";
    case LogLevel::kInfo:
      return "INFO";
    case LogLevel::kWarning:
      return "WARN";
    case LogLevel::kError:
      return "ERROR";
  }
  return "?";
}

}  // namespace

void SetLogLevel(LogLevel level) { g_min_level.store(static_cast<int>(level)); }

bool ParseLogLevel(absl::string_view text, LogLevel* out) {
  std::string t = absl::AsciiStrToLower(text);
  if (t == "debug") {
    *out = LogLevel::kDebug;
  } else if (t == "info") {
    *out = LogLevel::kInfo;
  } else if (t == "warning" || t == "warn") {
    *out = LogLevel::kWarning;
  } else if (t == "error") {
    *out = LogLevel::kError;
  } else {
    return false;
  }
  return true;
}

bool LogEnabled(LogLevel level) {
  return static_cast<int>(level) >= g_min_level.load(std::memory_order_relaxed);
}

void LogLine(LogLevel level, absl::string_view component, absl::string_view message) {
  std::string line =
      absl::StrCat(absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone()), " ",
                   LevelName(level), " ", component, ": ", message, "\n");
  // One write() per line so that lines from several threads do not interleave.
  ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}

std::string RedactPushkey(absl::string_view pushkey) {
  // A short stable hash (FNV-1a, 32 bits) lets log lines of one device be
  // matched up without showing the key.
  uint32_t hash = 2166136261u;
  for (unsigned char c : pushkey) hash = (hash ^ c) * 16777619u;
  std::string tail =
      absl::StrCat("…(", pushkey.size(), " chars, #", absl::Hex(hash, absl::kZeroPad8), ")");
  size_t scheme_end = pushkey.find("://");
  if (scheme_end != absl::string_view::npos && scheme_end < 10) {
    size_t host_end = pushkey.find('/', scheme_end + 3);
    absl::string_view origin = pushkey.substr(0, host_end);
    // Drop any userinfo: it may be a credential.
    size_t at = origin.rfind('@');
    std::string shown = at == absl::string_view::npos
                            ? std::string(origin)
                            : absl::StrCat(origin.substr(0, scheme_end + 3), origin.substr(at + 1));
    return absl::StrCat(shown, "/", tail);
  }
  if (pushkey.size() <= 8) return tail;
  return absl::StrCat(pushkey.substr(0, 6), tail);
}

}  // namespace herald
