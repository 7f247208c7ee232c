#include "providers/common/jws_verify.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "providers/common/encoding.h"
#include "providers/common/jws_internal.h"
#include "providers/common/openssl_util.h"
#include "providers/common/signing_key.h"

namespace herald::providers {

absl::StatusOr<VerifiedJwt> VerifyJwt(absl::string_view jwt, absl::string_view public_key_pem) {
  openssl::ClearOpensslErrorsOnExit clear_errors;

  // Split the compact serialization.
  const size_t dot1 = jwt.find('.');
  const size_t dot2 = dot1 == absl::string_view::npos ? dot1 : jwt.find('.', dot1 + 1);
  if (dot2 == absl::string_view::npos || jwt.find('.', dot2 + 1) != absl::string_view::npos) {
    return absl::InvalidArgumentError("not a compact JWS (need exactly three '.'-separated parts)");
  }
  const absl::string_view header_b64 = jwt.substr(0, dot1);
  const absl::string_view claims_b64 = jwt.substr(dot1 + 1, dot2 - dot1 - 1);
  const absl::string_view sig_b64 = jwt.substr(dot2 + 1);
  const absl::string_view signing_input = jwt.substr(0, dot2);

  // The verification key: a public key PEM, else a private key PEM.
  openssl::PkeyPtr pkey;
  {
    openssl::BioPtr bio = openssl::MemBio(public_key_pem);
    if (bio != nullptr)
      pkey.reset(PEM_read_bio_PUBKEY(bio.get(), nullptr, openssl::NoPassword, nullptr));
  }
  if (pkey == nullptr) {
    absl::StatusOr<SigningKey> priv = SigningKey::FromPem(public_key_pem);
    if (!priv.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("verification key: expected a PUBLIC KEY or private key PEM (",
                       priv.status().message(), ")"));
    }
    if (EVP_PKEY_up_ref(priv->get()) != 1) return absl::InternalError("EVP_PKEY_up_ref failed");
    pkey.reset(priv->get());
  }
  absl::StatusOr<openssl::Alg> key_alg = openssl::ClassifyKey(pkey.get());
  if (!key_alg.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("verification key: ", key_alg.status().message()));
  }

  // Header.
  VerifiedJwt out;
  std::optional<std::string> header_json = Base64UrlDecode(header_b64);
  if (!header_json.has_value()) return absl::InvalidArgumentError("JWS header is not base64url");
  std::optional<rapidjson::Document> header = jose::ParseJsonObject(*header_json);
  if (!header.has_value()) {
    return absl::InvalidArgumentError("JWS header is not a JSON object (with unique member names)");
  }
  const std::optional<std::string> alg = jose::StringMember(*header, "alg");
  if (!alg.has_value()) return absl::InvalidArgumentError("JWS header has no \"alg\"");
  if (*alg != openssl::AlgName(*key_alg)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "JWS \"alg\" is \"", *alg, "\"; this key needs \"", openssl::AlgName(*key_alg), "\""));
  }
  if (header->HasMember("crit")) {
    return absl::InvalidArgumentError("JWS header has \"crit\" extensions, none are supported");
  }

  // Signature.
  std::optional<std::string> sig = Base64UrlDecode(sig_b64);
  if (!sig.has_value()) return absl::InvalidArgumentError("JWS signature is not base64url");
  if (*key_alg == openssl::Alg::kES256) {
    if (sig->size() != 64) {
      return absl::UnauthenticatedError(
          absl::StrCat("ES256 signature must be 64 bytes, got ", sig->size()));
    }
    std::optional<std::string> der = openssl::EcdsaRawToDer(*sig);
    if (!der.has_value()) return absl::InternalError("cannot convert the ECDSA signature");
    sig = std::move(der);
  } else if (sig->size() != static_cast<size_t>(EVP_PKEY_get_size(pkey.get()))) {
    return absl::UnauthenticatedError("RS256 signature length does not match the key");
  }
  openssl::MdCtxPtr md(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;  // Owned by md.
  if (md == nullptr ||
      EVP_DigestVerifyInit(md.get(), &pctx, EVP_sha256(), nullptr, pkey.get()) != 1) {
    return absl::InternalError("cannot initialise verification");
  }
  if (*key_alg == openssl::Alg::kRS256 &&
      EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1) {
    return absl::InternalError("cannot select RSASSA-PKCS1-v1_5");
  }
  if (EVP_DigestVerify(md.get(), reinterpret_cast<const unsigned char*>(sig->data()), sig->size(),
                       reinterpret_cast<const unsigned char*>(signing_input.data()),
                       signing_input.size()) != 1) {
    return absl::UnauthenticatedError("JWS signature does not verify");
  }

  // Claims.
  std::optional<std::string> claims_json = Base64UrlDecode(claims_b64);
  if (!claims_json.has_value()) return absl::InvalidArgumentError("JWT claims are not base64url");
  if (!jose::ParseJsonObject(*claims_json).has_value()) {
    return absl::InvalidArgumentError(
        "JWT claims are not a JSON object (with unique member names)");
  }
  out.header_json = std::move(*header_json);
  out.claims_json = std::move(*claims_json);
  return out;
}

}  // namespace herald::providers
