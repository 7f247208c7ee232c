#include "providers/common/jws.h"

#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <climits>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "providers/common/encoding.h"
#include "providers/common/jws_internal.h"
#include "providers/common/openssl_util.h"

namespace herald::providers {
namespace jose {

constexpr unsigned kParseFlags = rapidjson::kParseValidateEncodingFlag;

std::optional<rapidjson::Document> ParseJsonObject(absl::string_view text) {
  rapidjson::Document doc;
  doc.Parse<kParseFlags>(text.data(), text.size());
  if (doc.HasParseError() || !doc.IsObject()) return std::nullopt;
  absl::flat_hash_set<absl::string_view> names;
  for (auto it = doc.MemberBegin(); it != doc.MemberEnd(); ++it) {
    if (!names.emplace(it->name.GetString(), it->name.GetStringLength()).second) {
      return std::nullopt;
    }
  }
  return doc;
}

std::optional<std::string> StringMember(const rapidjson::Document& doc, const char* name) {
  auto it = doc.FindMember(name);
  if (it == doc.MemberEnd() || !it->value.IsString()) return std::nullopt;
  return std::string(it->value.GetString(), it->value.GetStringLength());
}

}  // namespace jose

JoseObject& JoseObject::Str(const char* key, absl::string_view value) {
  ok_ = ok_ && value.size() <= UINT32_MAX && writer_.Key(key) &&
        writer_.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
  return *this;
}

JoseObject& JoseObject::Int(const char* key, int64_t value) {
  ok_ = ok_ && writer_.Key(key) && writer_.Int64(value);
  return *this;
}

std::optional<std::string> JoseObject::Finish() {
  ok_ = ok_ && writer_.EndObject();
  if (!ok_) return std::nullopt;
  return std::string(buffer_.GetString(), buffer_.GetSize());
}

absl::Status RequireNonEmpty(absl::string_view value, absl::string_view what) {
  if (value.empty()) return absl::InvalidArgumentError(absl::StrCat(what, " must not be empty"));
  return absl::OkStatus();
}

absl::StatusOr<std::string> SignJwt(const SigningKey& key, absl::string_view header_json,
                                    absl::string_view claims_json) {
  openssl::ClearOpensslErrorsOnExit clear_errors;
  std::optional<rapidjson::Document> header = jose::ParseJsonObject(header_json);
  if (!header.has_value()) {
    return absl::InvalidArgumentError("JWS header is not a JSON object (with unique member names)");
  }
  const std::optional<std::string> alg = jose::StringMember(*header, "alg");
  if (!alg.has_value() || *alg != key.jws_algorithm()) {
    return absl::InvalidArgumentError(
        absl::StrCat("JWS header \"alg\" must be \"", key.jws_algorithm(), "\" for this key"));
  }

  std::string signing_input =
      absl::StrCat(Base64UrlEncode(header_json), ".", Base64UrlEncode(claims_json));
  openssl::MdCtxPtr md(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;  // Owned by md.
  if (md == nullptr || EVP_DigestSignInit(md.get(), &pctx, EVP_sha256(), nullptr, key.get()) != 1) {
    return absl::InternalError("cannot initialise signing");
  }
  if (key.is_rsa() && EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1) {
    return absl::InternalError("cannot select RSASSA-PKCS1-v1_5");
  }
  const int max_size = EVP_PKEY_get_size(key.get());
  if (max_size <= 0) return absl::InternalError("cannot size the signature");
  std::string sig(static_cast<size_t>(max_size), '\0');
  size_t sig_len = sig.size();
  if (EVP_DigestSign(md.get(), reinterpret_cast<unsigned char*>(sig.data()), &sig_len,
                     reinterpret_cast<const unsigned char*>(signing_input.data()),
                     signing_input.size()) != 1) {
    return absl::InternalError(absl::StrCat("signing failed (", openssl::OpensslReason(), ")"));
  }
  sig.resize(sig_len);
  if (key.is_ec_p256()) {
    std::optional<std::string> raw = openssl::EcdsaDerToRaw(sig);
    if (!raw.has_value()) return absl::InternalError("cannot convert the ECDSA signature");
    sig = std::move(*raw);
  }
  signing_input.push_back('.');
  signing_input.append(Base64UrlEncode(sig));
  return signing_input;
}

}  // namespace herald::providers
