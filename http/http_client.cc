#include "http/http_client.h"

namespace herald::http {

const char* TransportErrorName(TransportError e) {
  switch (e) {
    case TransportError::kNone:
      return "none";
    case TransportError::kTimeout:
      return "timeout";
    case TransportError::kConnect:
      return "connect";
    case TransportError::kTls:
      return "tls";
    case TransportError::kRefusedAddress:
      return "refused_address";
    case TransportError::kBadUrl:
      return "bad_url";
    case TransportError::kShutdown:
      return "shutdown";
    case TransportError::kOther:
      return "other";
  }
  return "?";
}

absl::string_view HttpResponse::Header(absl::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k == name) return v;
  }
  return {};
}

}  // namespace herald::http
