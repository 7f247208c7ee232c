// The one refusal path every credentialed provider takes: renew, send once
// more, never twice.
#include "providers/common/credential.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace herald::providers {
namespace {

// Hands out "c1", then "c2" once a refusal renewed it, ...
class ScriptedCredential final : public Credential {
 public:
  void Get(Callback done) override {
    if (!error.ok()) return done(error);
    done("c" + std::to_string(generation));
  }
  bool Refused(const std::string& used) override {
    refused.push_back(used);
    if (!renews) return false;
    ++generation;
    return true;
  }
  int generation = 1;
  bool renews = true;
  absl::Status error;
  std::vector<std::string> refused;
};

struct Sent {
  std::vector<std::string> sent_with;  // the credential of each attempt
  CredentialAnswer last;
  bool renewed = false;
  int done = 0;
};

// Sends with `credential`; the push service answers each attempt in turn
// from `refusals` (true: refused), then accepts.
Sent Send(Credential* credential, std::vector<bool> refusals) {
  Sent run;
  SendWithCredential(
      credential,
      [&](const std::string& c, const std::function<void(CredentialAnswer)>& answer) {
        const size_t n = run.sent_with.size();
        run.sent_with.push_back(c);
        const bool refused = n < refusals.size() && refusals[n];
        answer({refused ? Outcome::Failed("401") : Outcome::Delivered(), refused});
      },
      [&](CredentialAnswer last, bool renewed) {
        run.last = std::move(last);
        run.renewed = renewed;
        ++run.done;
      });
  return run;
}

TEST(SendWithCredentialTest, AcceptedAtOnce) {
  ScriptedCredential credential;
  Sent run = Send(&credential, {});
  EXPECT_EQ(run.done, 1);
  EXPECT_EQ(run.sent_with, std::vector<std::string>{"c1"});
  EXPECT_EQ(run.last.outcome.kind, Outcome::Kind::kDelivered);
  EXPECT_FALSE(run.renewed);
  EXPECT_TRUE(credential.refused.empty());
}

TEST(SendWithCredentialTest, RefusedOnceIsRenewedAndSentAgain) {
  ScriptedCredential credential;
  Sent run = Send(&credential, {true});
  EXPECT_EQ(run.done, 1);
  EXPECT_EQ(run.sent_with, (std::vector<std::string>{"c1", "c2"}));
  EXPECT_EQ(credential.refused, std::vector<std::string>{"c1"});
  EXPECT_EQ(run.last.outcome.kind, Outcome::Kind::kDelivered);
  EXPECT_TRUE(run.renewed);
}

TEST(SendWithCredentialTest, RefusedTwiceIsFinalAfterTwoAttempts) {
  ScriptedCredential credential;
  Sent run = Send(&credential, {true, true, true});
  EXPECT_EQ(run.done, 1);
  EXPECT_EQ(run.sent_with.size(), 2u);
  EXPECT_EQ(credential.refused, std::vector<std::string>{"c1"});  // not asked again
  EXPECT_TRUE(run.last.refused);
  EXPECT_EQ(run.last.outcome.kind, Outcome::Kind::kFailed);
  EXPECT_TRUE(run.renewed);
}

TEST(SendWithCredentialTest, NotRenewedWhenTheCredentialMayNotBe) {
  ScriptedCredential credential;
  credential.renews = false;  // e.g. an APNs token under 20 minutes old
  Sent run = Send(&credential, {true});
  EXPECT_EQ(run.sent_with, std::vector<std::string>{"c1"});
  EXPECT_TRUE(run.last.refused);
  EXPECT_FALSE(run.renewed);
}

TEST(SendWithCredentialTest, NoCredentialMeansNoRequest) {
  ScriptedCredential credential;
  credential.error = absl::UnavailableError("token endpoint answered 503");
  Sent unavailable = Send(&credential, {});
  EXPECT_TRUE(unavailable.sent_with.empty());
  EXPECT_EQ(unavailable.last.outcome.kind, Outcome::Kind::kRetry);
  EXPECT_EQ(unavailable.last.outcome.detail, "token endpoint answered 503");
  credential.error = absl::PermissionDeniedError("the key was refused");
  Sent refused = Send(&credential, {});
  EXPECT_TRUE(refused.sent_with.empty());
  EXPECT_EQ(refused.last.outcome.kind, Outcome::Kind::kFailed);
}

TEST(SendWithCredentialTest, WithoutACredentialOneAttemptAndNoRenewal) {
  Sent run = Send(nullptr, {true});
  EXPECT_EQ(run.sent_with, std::vector<std::string>{""});
  EXPECT_TRUE(run.last.refused);
  EXPECT_FALSE(run.renewed);
}

}  // namespace
}  // namespace herald::providers
