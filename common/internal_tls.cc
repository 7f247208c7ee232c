#include "common/internal_tls.h"

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/pem_file.h"

namespace herald {
namespace {

struct Pems {
  std::string cert, key, ca;
  ~Pems() { OPENSSL_cleanse(key.data(), key.size()); }
};

// Reads the three files and checks that they hold what they should (a
// certificate, its own private key, at least one CA certificate), so that a
// mistake stops start-up with its file's name rather than failing every
// handshake later.
absl::Status Load(const DispatcherConfig::Tls& tls, Pems* out) {
  auto fail = [](const std::string& file, const std::string& why) {
    ERR_clear_error();
    return absl::InvalidArgumentError(absl::StrCat("dispatcher.tls: ", file, ": ", why));
  };
  for (auto [path, to] : {std::pair{&tls.cert_file, &out->cert},
                          {&tls.key_file, &out->key},
                          {&tls.ca_file, &out->ca}}) {
    absl::StatusOr<std::string> pem = ReadPemFile(*path);
    if (!pem.ok())
      return absl::InvalidArgumentError(absl::StrCat("dispatcher.tls: ", pem.status().message()));
    *to = *std::move(pem);
  }
  std::unique_ptr<BIO, decltype(&BIO_free)> cert_bio(
      BIO_new_mem_buf(out->cert.data(), static_cast<int>(out->cert.size())), BIO_free);
  std::unique_ptr<X509, decltype(&X509_free)> cert(
      PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr), X509_free);
  if (cert == nullptr) return fail(tls.cert_file, "no PEM certificate in it");
  std::unique_ptr<BIO, decltype(&BIO_free)> key_bio(
      BIO_new_mem_buf(out->key.data(), static_cast<int>(out->key.size())), BIO_free);
  // No passphrase prompt: an encrypted key is refused, not asked about.
  auto no_passphrase = [](char*, int, int, void*) { return 0; };
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      PEM_read_bio_PrivateKey(key_bio.get(), nullptr, no_passphrase, nullptr), EVP_PKEY_free);
  if (key == nullptr) return fail(tls.key_file, "no unencrypted PEM private key in it");
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    return fail(tls.key_file, absl::StrCat("not the key of the certificate in ", tls.cert_file));
  }
  std::unique_ptr<BIO, decltype(&BIO_free)> ca_bio(
      BIO_new_mem_buf(out->ca.data(), static_cast<int>(out->ca.size())), BIO_free);
  std::unique_ptr<X509, decltype(&X509_free)> ca(
      PEM_read_bio_X509(ca_bio.get(), nullptr, nullptr, nullptr), X509_free);
  if (ca == nullptr) return fail(tls.ca_file, "no PEM certificate in it");
  ERR_clear_error();
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> InternalChannelCredentials(
    const DispatcherConfig::Tls& tls) {
  if (!tls.enabled()) return grpc::InsecureChannelCredentials();
  Pems pems;
  if (absl::Status loaded = Load(tls, &pems); !loaded.ok()) return loaded;
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = pems.ca;
  options.pem_private_key = pems.key;
  options.pem_cert_chain = pems.cert;
  std::shared_ptr<grpc::ChannelCredentials> creds = grpc::SslCredentials(options);
  OPENSSL_cleanse(options.pem_private_key.data(), options.pem_private_key.size());
  return creds;
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> InternalServerCredentials(
    const DispatcherConfig::Tls& tls) {
  if (!tls.enabled()) return grpc::InsecureServerCredentials();
  Pems pems;
  if (absl::Status loaded = Load(tls, &pems); !loaded.ok()) return loaded;
  grpc::SslServerCredentialsOptions options(
      GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  options.pem_root_certs = pems.ca;
  options.pem_key_cert_pairs.push_back({pems.key, pems.cert});
  std::shared_ptr<grpc::ServerCredentials> creds = grpc::SslServerCredentials(options);
  for (auto& pair : options.pem_key_cert_pairs) {
    OPENSSL_cleanse(pair.private_key.data(), pair.private_key.size());
  }
  return creds;
}

}  // namespace herald
