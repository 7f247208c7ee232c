#include "http/endpoint.h"

#include <curl/curl.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/glob.h"

namespace herald::http {

std::optional<HttpEndpoint> ParseHttpEndpoint(const std::string& url) {
  // Control characters (a NUL above all, where libcurl would cut the URL
  // short and push somewhere else) and spaces make no URL.
  for (unsigned char c : url) {
    if (c <= 0x20 || c == 0x7F) return std::nullopt;
  }
  CURLU* u = curl_url();
  std::optional<HttpEndpoint> out;
  if (curl_url_set(u, CURLUPART_URL, url.c_str(), 0) == CURLUE_OK) {
    char* scheme = nullptr;
    char* host = nullptr;
    char* port = nullptr;
    if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
      curl_url_get(u, CURLUPART_PORT, &port, 0);  // only when explicit
      std::string s = absl::AsciiStrToLower(scheme);
      if ((s == "https" || s == "http") && host[0] != '\0') {
        HttpEndpoint e;
        e.host = absl::AsciiStrToLower(host);
        if (port != nullptr) e.port = port;
        e.origin =
            absl::StrCat(s, "://", e.host, port != nullptr ? ":" : "", port != nullptr ? port : "");
        out = std::move(e);
      }
    }
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
  }
  curl_url_cleanup(u);
  return out;
}

HostAllowList::HostAllowList(const std::vector<std::string>& globs) {
  for (const std::string& g : globs) globs_.push_back(absl::AsciiStrToLower(g));
}

bool HostAllowList::Allows(absl::string_view host, absl::string_view port) const {
  if (globs_.empty()) return true;
  const std::string host_port = port.empty() ? "" : absl::StrCat(host, ":", port);
  for (const std::string& glob : globs_) {
    if (GlobMatch(glob, host)) return true;
    if (!host_port.empty() && GlobMatch(glob, host_port)) return true;
  }
  return false;
}

}  // namespace herald::http
