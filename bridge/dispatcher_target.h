// dispatcher.target, read the way the bridge spreads its streams: a gRPC
// target naming one or more dispatchers, turned into one per-address target
// each, so that every dispatcher gets streams of its own.
//
// Pure except for Resolve(), which asks the system resolver (getaddrinfo)
// and blocks: call it off the I/O threads.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace herald::bridge {

struct DispatcherTarget {
  enum class Kind {
    kDns,     // dns:///host:port, dns://authority/host:port or host:port:
              // re-resolved, each address its own dispatcher
    kStatic,  // ipv4:a:p,b:p / ipv6:[a]:p,...: each address its own
    kSingle,  // anything else gRPC takes (unix:path...): one channel
  };
  Kind kind = Kind::kSingle;
  std::string host;  // kDns: the name (also the TLS name to verify)
  std::string port;  // kDns
  // kStatic: one "ipv4:a:p" / "ipv6:[a]:p" target per address; kSingle:
  // the target as given.
  std::vector<std::string> fixed;
};

absl::StatusOr<DispatcherTarget> ParseDispatcherTarget(absl::string_view target);

// The per-address gRPC targets ("ipv4:10.0.0.7:50051", "ipv6:[fd00::7]:50051")
// the target stands for now, sorted and without repeats. kStatic and kSingle
// give `fixed`; kDns asks the resolver.
absl::StatusOr<std::vector<std::string>> ResolveDispatcherTarget(const DispatcherTarget& target);

}  // namespace herald::bridge
