#include "bridge/dispatcher_target.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace herald::bridge {
namespace {

absl::Status Bad(absl::string_view target, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("dispatcher.target \"", target, "\": ", why));
}

bool ValidPort(absl::string_view port) {
  int n = 0;
  return !port.empty() && absl::SimpleAtoi(port, &n) && n > 0 && n < 65536;
}

// "host:port" or "[v6]:port" → host and port.
bool SplitHostPort(absl::string_view s, std::string* host, std::string* port) {
  if (absl::StartsWith(s, "[")) {
    size_t close = s.find(']');
    if (close == absl::string_view::npos || close + 1 >= s.size() || s[close + 1] != ':') {
      return false;
    }
    *host = std::string(s.substr(1, close - 1));
    *port = std::string(s.substr(close + 2));
  } else {
    size_t colon = s.rfind(':');
    if (colon == absl::string_view::npos || s.find(':') != colon) return false;
    *host = std::string(s.substr(0, colon));
    *port = std::string(s.substr(colon + 1));
  }
  return !host->empty() && ValidPort(*port);
}

}  // namespace

absl::StatusOr<DispatcherTarget> ParseDispatcherTarget(absl::string_view target) {
  DispatcherTarget t;
  if (target.empty()) return Bad(target, "empty");
  absl::string_view rest = target;
  const bool v4 = absl::ConsumePrefix(&rest, "ipv4:");
  const bool v6 = !v4 && absl::ConsumePrefix(&rest, "ipv6:");
  if (v4 || v6) {
    t.kind = DispatcherTarget::Kind::kStatic;
    for (absl::string_view one : absl::StrSplit(rest, ',')) {
      std::string host, port;
      if (!SplitHostPort(one, &host, &port)) {
        return Bad(target, absl::StrCat("\"", one, "\" is not address:port"));
      }
      unsigned char buf[16];
      if (inet_pton(v4 ? AF_INET : AF_INET6, host.c_str(), buf) != 1) {
        return Bad(target,
                   absl::StrCat("\"", host, "\" is not an IPv", v4 ? "4" : "6", " address"));
      }
      t.fixed.push_back(v4 ? absl::StrCat("ipv4:", host, ":", port)
                           : absl::StrCat("ipv6:[", host, "]:", port));
    }
    std::sort(t.fixed.begin(), t.fixed.end());
    t.fixed.erase(std::unique(t.fixed.begin(), t.fixed.end()), t.fixed.end());
    return t;
  }
  if (absl::ConsumePrefix(&rest, "dns:")) {
    // dns:///host:port, or dns://authority/host:port (the authority names a
    // DNS server; the system resolver here always uses the system's).
    if (absl::ConsumePrefix(&rest, "//")) {
      size_t slash = rest.find('/');
      if (slash == absl::string_view::npos) return Bad(target, "expected dns:///host:port");
      rest.remove_prefix(slash + 1);
    }
  } else if (absl::StrContains(rest, ":/") || absl::StartsWith(rest, "unix") ||
             absl::StartsWith(rest, "vsock:")) {
    // Some other scheme gRPC knows: one channel, gRPC resolves it.
    t.kind = DispatcherTarget::Kind::kSingle;
    t.fixed.push_back(std::string(target));
    return t;
  }
  t.kind = DispatcherTarget::Kind::kDns;
  if (!SplitHostPort(rest, &t.host, &t.port)) {
    return Bad(target, "expected host:port (the port is required)");
  }
  return t;
}

absl::StatusOr<std::vector<std::string>> ResolveDispatcherTarget(const DispatcherTarget& target) {
  if (target.kind != DispatcherTarget::Kind::kDns) return target.fixed;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  int rc = getaddrinfo(target.host.c_str(), target.port.c_str(), &hints, &found);
  if (rc != 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot resolve ", target.host, ": ", gai_strerror(rc)));
  }
  std::vector<std::string> out;
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    char text[INET6_ADDRSTRLEN] = {};
    if (a->ai_family == AF_INET) {
      inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(a->ai_addr)->sin_addr, text, sizeof(text));
      out.push_back(absl::StrCat("ipv4:", text, ":", target.port));
    } else if (a->ai_family == AF_INET6) {
      inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(a->ai_addr)->sin6_addr, text,
                sizeof(text));
      out.push_back(absl::StrCat("ipv6:[", text, "]:", target.port));
    }
  }
  freeaddrinfo(found);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  if (out.empty()) return absl::UnavailableError(absl::StrCat(target.host, " has no address"));
  return out;
}

}  // namespace herald::bridge
