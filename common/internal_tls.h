// Credentials of the bridge–dispatcher hop (dispatcher.tls): mutual TLS
// when configured, plaintext otherwise. Both ends, and any other gRPC
// caller built on Herald's code, read the same three files.
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "common/config.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"

namespace herald {

// The caller's side: presents cert_file/key_file, trusts ca_file only.
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> InternalChannelCredentials(
    const DispatcherConfig::Tls& tls);

// The dispatcher's side: serves cert_file/key_file and refuses a client
// without a certificate that ca_file signed.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> InternalServerCredentials(
    const DispatcherConfig::Tls& tls);

}  // namespace herald
