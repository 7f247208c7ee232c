#include "common/log.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

namespace herald {
namespace {

std::atomic<int> g_min_level{static_cast<int>(LogLevel::kInfo)};
std::atomic<bool> g_json{false};

// One JSON object per line; rapidjson escapes quotes and control characters.
std::string JsonLine(absl::string_view time, const char* level, absl::string_view component,
                     absl::string_view message) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  writer.StartObject();
  writer.Key("time");
  writer.String(time.data(), static_cast<rapidjson::SizeType>(time.size()));
  writer.Key("level");
  writer.String(level);
  writer.Key("component");
  writer.String(component.data(), static_cast<rapidjson::SizeType>(component.size()));
  writer.Key("message");
  writer.String(message.data(), static_cast<rapidjson::SizeType>(message.size()));
  writer.EndObject();
  return absl::StrCat(absl::string_view(buffer.GetString(), buffer.GetSize()), "\n");
}

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

void SetLogFormat(LogFormat format) { g_json.store(format == LogFormat::kJson); }

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
  const std::string time =
      absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone());
  const std::string line =
      g_json.load(std::memory_order_relaxed)
          ? JsonLine(time, LevelName(level), component, message)
          : absl::StrCat(time, " ", LevelName(level), " ", component, ": ", message, "\n");
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
