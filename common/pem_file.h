// The one reader of key and certificate files (PEM): the providers' signing
// keys and APNs certificates, and the TLS files of the internal hop.
#pragma once

#include <string>

#include "absl/status/statusor.h"

namespace herald {

// A PEM file's text (at most 1 MiB). The caller should wipe it
// (OPENSSL_cleanse) once read if it holds a private key.
absl::StatusOr<std::string> ReadPemFile(const std::string& path);

}  // namespace herald
