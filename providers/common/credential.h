// A credential sent with every push (an APNs provider token, an FCM OAuth
// access token) that the push service may refuse, and the one way providers
// react to a refusal: renew it and send once more, never twice.
#pragma once

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "providers/common/push_helpers.h"

namespace herald::providers {

class Credential {
 public:
  virtual ~Credential() = default;
  using Callback = std::function<void(absl::StatusOr<std::string>)>;
  // The credential to send now (signed or fetched when due), on this thread
  // or another. An error: kUnavailable is worth a retry, anything else is
  // the configuration's fault.
  virtual void Get(Callback done) = 0;
  // The push service refused `used`. True when the next Get() gives a
  // credential worth one more try (renewed now, or already); false when it
  // may not be renewed yet.
  virtual bool Refused(const std::string& used) = 0;
};

// How one request sent with a credential went.
struct CredentialAnswer {
  Outcome outcome;
  bool refused = false;  // the push service refused the credential
};

// Sends one push with a credential from `credential` (null: none, the
// request is sent once as it is). `attempt(credential, answer)` makes one
// request. A refused credential that Refused() renews is tried once more
// with the new one. `done(answer, renewed)` gets the last answer and whether
// a second attempt was made. A credential that cannot be had answers
// Retry (kUnavailable) or Failed, without a request.
using CredentialAttempt = std::function<void(const std::string& credential,
                                             std::function<void(CredentialAnswer)> answer)>;
using CredentialDone = std::function<void(CredentialAnswer answer, bool renewed)>;
void SendWithCredential(Credential* credential, CredentialAttempt attempt, CredentialDone done);

}  // namespace herald::providers
