// Push endpoints given by devices (UnifiedPush pushkeys, Web Push
// subscriptions): parsing, and the `allowed_endpoints` host allow-list.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace herald::http {

struct HttpEndpoint {
  std::string host;    // lower case
  std::string port;    // as written in the URL; empty when implicit
  std::string origin;  // scheme://host[:port], lower case
};

// An http(s) URL's host and origin; nullopt when it is not one (also when it
// holds a control character or a space anywhere).
std::optional<HttpEndpoint> ParseHttpEndpoint(const std::string& url);

// `allowed_endpoints`: globs over the endpoint host, matched case-blind,
// also tried against "host:port" when the URL names a port (Sygnal matches
// the URL's netloc). Empty allows every host.
class HostAllowList {
 public:
  explicit HostAllowList(const std::vector<std::string>& globs);
  bool Allows(absl::string_view host, absl::string_view port = "") const;

 private:
  std::vector<std::string> globs_;  // lower case
};

}  // namespace herald::http
