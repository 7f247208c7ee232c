#include "providers/common/credential.h"

#include <memory>
#include <utility>

namespace herald::providers {
namespace {

struct Sending {
  Credential* credential;
  CredentialAttempt attempt;
  CredentialDone done;
  bool renewed = false;
};

void Try(const std::shared_ptr<Sending>& s) {
  auto send = [s](const std::string& used) {
    s->attempt(used, [s, used](CredentialAnswer answer) {
      if (answer.refused && s->credential != nullptr && !s->renewed &&
          s->credential->Refused(used)) {
        s->renewed = true;
        Try(s);
        return;
      }
      s->done(std::move(answer), s->renewed);
    });
  };
  if (s->credential == nullptr) return send("");
  s->credential->Get([s, send](absl::StatusOr<std::string> credential) {
    if (!credential.ok()) {
      std::string why(credential.status().message());
      s->done({credential.status().code() == absl::StatusCode::kUnavailable
                   ? Outcome::Retry(std::move(why))
                   : Outcome::Failed(std::move(why))},
              s->renewed);
      return;
    }
    send(*credential);
  });
}

}  // namespace

void SendWithCredential(Credential* credential, CredentialAttempt attempt, CredentialDone done) {
  Try(std::make_shared<Sending>(Sending{credential, std::move(attempt), std::move(done)}));
}

}  // namespace herald::providers
