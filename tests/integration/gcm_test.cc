// FCM v1 end to end: the real bridge and dispatcher against the fake provider
// acting as both Google's OAuth2 token endpoint and FCM (HTTP/2 over TLS).
#include <sys/wait.h>

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/harness/harness.h"

namespace herald::testing {
namespace {

constexpr char kEmail[] = "herald-test@test-project.iam.gserviceaccount.com";

std::string Notification(const std::vector<std::string>& tokens, const std::string& data = "{}") {
  std::vector<std::string> devices;
  devices.reserve(tokens.size());
  for (const std::string& t : tokens) {
    devices.push_back(DeviceJson("com.example.app.android", t, data));
  }
  return SpecNotifyBody(devices);
}

std::string FcmError(int code, const std::string& status, const std::string& error_code,
                     const std::string& message) {
  return absl::StrCat(
      R"({"error":{"code":)", code, R"(,"message":)", JsonString(message), R"(,"status":")", status,
      R"(","details":[{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError",)",
      R"("errorCode":")", error_code, R"("}]}})");
}

class GcmTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::string dir = TempDir();
    pki_ = new TestPki(MakeTestPki(dir));
    std::string cmd = absl::StrCat(
        "cd '", dir, "' && openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 ",
        "-out sa.key 2>/dev/null && openssl pkey -in sa.key -pubout -out sa.pub");
    ASSERT_EQ(std::system(cmd.c_str()), 0);
    private_pem_ = new std::string(ReadFile(dir + "/sa.key"));
    public_pem_ = new std::string(ReadFile(dir + "/sa.pub"));
  }
  static void TearDownTestSuite() {
    delete pki_;
    delete private_pem_;
    delete public_pem_;
  }

  // A fresh fake and Herald per test: token counts start from zero.
  void SetUp() override {
    fake_ = std::make_unique<FakeProvider>(
        FakeProvider::Options{pki_->server_cert, pki_->server_key, ""});
    std::string sa_file = absl::StrCat(TempDir(), "/sa-", fake_->port(), ".json");
    WriteFile(sa_file, absl::StrCat(R"({"type":"service_account","project_id":"test-project",)",
                                    R"("client_email":)", JsonString(kEmail), R"(,"private_key":)",
                                    JsonString(*private_pem_), R"(,"token_uri":)",
                                    JsonString(fake_->base_url() + "/token"), "}"));
    auto app = [&](const std::string& id, const std::string& more) {
      return absl::StrCat("  ", id, ":\n    type: gcm\n    api_version: v1\n",
                          "    project_id: test-project\n    service_account_file: ", sa_file,
                          "\n    endpoint: ", fake_->base_url(), "\n    ca_file: ", pki_->ca_cert,
                          "\n", more);
    };
    herald_ = std::make_unique<Herald>(
        absl::StrCat(app("com.example.app.android",
                         "    fcm_options:\n      android:\n        ttl: 3600s\n"),
                     app("com.example.nobadge", "    send_badge_counts: false\n")),
        "  deadline: 5\n  retry_initial_backoff: 0.05\n  max_attempts: 3\n"
        "  metrics_listen: 127.0.0.1:0\n");
  }

  // The token endpoint and the bearer check come first.
  void SetRules(const std::string& more) {
    fake_->SetRules(absl::StrCat(
        R"([{"path":"/token","action":"oauth_token","public_key_pem":)", JsonString(*public_pem_),
        R"(},{"path_prefix":"/v1/","bearer_token":{"issued":false},"status":401,"json":)",
        FcmError(401, "UNAUTHENTICATED", "THIRD_PARTY_AUTH_ERROR", "bad token"), "}",
        more.empty() ? "" : ",", more,
        R"(,{"path_prefix":"/v1/","json":{"name":"projects/test-project/messages/1"}}])"));
  }

  int Count(const std::string& path) {
    int n = 0;
    rapidjson::Document reqs = fake_->Requests();  // must outlive the loop
    for (const auto& r : reqs.GetArray()) n += path == r["path"].GetString();
    return n;
  }

  static TestPki* pki_;
  static std::string* private_pem_;
  static std::string* public_pem_;
  std::unique_ptr<FakeProvider> fake_;
  std::unique_ptr<Herald> herald_;
};

TestPki* GcmTest::pki_ = nullptr;
std::string* GcmTest::private_pem_ = nullptr;
std::string* GcmTest::public_pem_ = nullptr;

constexpr char kSendPath[] = "/v1/projects/test-project/messages:send";

TEST_F(GcmTest, DeliversSygnalsDataMessageWithOneTokenForManyPushes) {
  SetRules("");
  HttpResult r = herald_->Notify(Notification({"tok-a", "tok-b", "tok-c"}));
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, R"({"rejected":[]})");
  HttpResult r2 = herald_->Notify(Notification({"tok-d", "tok-e"}));
  EXPECT_EQ(r2.status, 200) << r2.body;
  EXPECT_EQ(Count("/token"), 1);
  EXPECT_EQ(Count(kSendPath), 5);

  rapidjson::Document reqs = fake_->Requests();
  const rapidjson::Value* token_req = nullptr;
  const rapidjson::Value* push = nullptr;
  for (const auto& req : reqs.GetArray()) {
    std::string path = req["path"].GetString();
    std::string body = req["body"].GetString();
    if (path == "/token") token_req = &req;
    if (path == kSendPath && body.find("\"tok-a\"") != std::string::npos) push = &req;
  }
  ASSERT_NE(token_req, nullptr);
  ASSERT_NE(push, nullptr);
  // The assertion: RS256, the service account's identity, FCM's scope.
  const rapidjson::Value& jwt = (*token_req)["assertion_jwt"];
  EXPECT_EQ(std::string(jwt["header"]["alg"].GetString()), "RS256");
  EXPECT_EQ(std::string(jwt["claims"]["iss"].GetString()), kEmail);
  EXPECT_EQ(std::string(jwt["claims"]["scope"].GetString()),
            "https://www.googleapis.com/auth/firebase.messaging");
  EXPECT_EQ(std::string(jwt["claims"]["aud"].GetString()), fake_->base_url() + "/token");
  EXPECT_LE(jwt["claims"]["exp"].GetInt64() - jwt["claims"]["iat"].GetInt64(), 3600);

  EXPECT_EQ(std::string((*push)["protocol"].GetString()), "HTTP/2");
  EXPECT_EQ(RequestHeader(*push, "authorization"), "Bearer fake-token-1");
  EXPECT_EQ(std::string((*push)["body"].GetString()),
            R"({"message":{"token":"tok-a","data":{"event_id":"$3957tyerfgewrf384",)"
            R"("type":"m.room.message","sender":"@exampleuser:matrix.org",)"
            R"("room_name":"Mission Control","sender_display_name":"Major Tom",)"
            R"("room_id":"!slw48wfj34rtnrf:example.com","content_msgtype":"m.text",)"
            R"("content_body":"I'm floating in a most peculiar way.","prio":"high",)"
            R"("unread":"2","missed_calls":"1"},"android":{"priority":"high","ttl":"3600s"}}})");
}

TEST_F(GcmTest, DeadTokensAreRejectedAndOtherErrorsAreNot) {
  SetRules(
      absl::StrCat(R"({"body_contains":"\"tok-unreg\"","status":404,"json":)",
                   FcmError(404, "NOT_FOUND", "UNREGISTERED", "Requested entity was not found."),
                   "},", R"({"body_contains":"\"tok-invalid\"","status":400,"json":)",
                   FcmError(400, "INVALID_ARGUMENT", "INVALID_ARGUMENT",
                            "The registration token is not a valid FCM registration token"),
                   "},", R"({"body_contains":"\"tok-ok\"","json":{"name":"x"}})"));
  HttpResult r = herald_->Notify(Notification({"tok-unreg", "tok-invalid", "tok-ok"}));
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(RejectedPushkeys(r), (std::vector<std::string>{"tok-unreg", "tok-invalid"}));
}

TEST_F(GcmTest, PermanentErrorsAre502WithoutRetry) {
  SetRules(
      absl::StrCat(R"({"body_contains":"\"tok-mismatch\"","status":403,"json":)",
                   FcmError(403, "PERMISSION_DENIED", "SENDER_ID_MISMATCH", "SenderId mismatch"),
                   "},", R"({"body_contains":"\"tok-denied\"","status":403,"json":)",
                   FcmError(403, "PERMISSION_DENIED", "", "Permission denied"), "}"));
  for (const char* token : {"tok-mismatch", "tok-denied"}) {
    HttpResult r = herald_->Notify(Notification({token}));
    EXPECT_EQ(r.status, 502) << token << " " << r.body;
  }
  EXPECT_EQ(Count(kSendPath), 2);
}

TEST_F(GcmTest, RefusedMessagesAreDroppedNotRetriedNotRejected) {
  SetRules(absl::StrCat(
      R"({"body_contains":"\"tok-badarg\"","status":400,"json":)",
      FcmError(400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", "Invalid JSON payload received."), "},",
      R"({"body_contains":"\"tok-large\"","status":413,"body":"too large"})"));
  for (const char* token : {"tok-badarg", "tok-large"}) {
    HttpResult r = herald_->Notify(Notification({token}));
    EXPECT_EQ(r.status, 200) << token << " " << r.body;
    EXPECT_EQ(r.body, R"({"rejected":[]})") << token;
  }
  EXPECT_EQ(Count(kSendPath), 2);  // no retries
  // A fresh dispatcher per test (SetUp): the count starts at zero.
  EXPECT_EQ(MetricValue(herald_->DispatcherMetrics(),
                        R"(herald_pushes_total{app="com.example.app.android",outcome="dropped"})"),
            2);
  const std::string log = herald_->dispatcher().Log();
  EXPECT_NE(
      log.find("notification dropped, the pushkey is kept: FCM answered 400 INVALID_ARGUMENT"),
      std::string::npos);
  EXPECT_NE(log.find("notification dropped, the pushkey is kept: FCM answered 413"),
            std::string::npos);
}

TEST_F(GcmTest, SendBadgeCountsFalseSendsNoCounts) {
  SetRules("");
  HttpResult r = herald_->Notify(SpecNotifyBody({DeviceJson("com.example.nobadge", "tok-nb")}));
  EXPECT_EQ(r.status, 200) << r.body;
  rapidjson::Document reqs = fake_->Requests(2);
  std::string body;
  for (const auto& req : reqs.GetArray()) {
    if (std::string(req["path"].GetString()) == kSendPath) body = req["body"].GetString();
  }
  ASSERT_NE(body.find("\"tok-nb\""), std::string::npos) << body;
  EXPECT_EQ(body.find("unread"), std::string::npos) << body;
  EXPECT_EQ(body.find("missed_calls"), std::string::npos) << body;
  EXPECT_NE(body.find(R"("sender_display_name":"Major Tom")"), std::string::npos) << body;
}

TEST_F(GcmTest, TransientErrorsAreRetriedAndRetryAfterHonoured) {
  SetRules(absl::StrCat(
      R"({"body_contains":"\"tok-quota\"","times":1,"status":429,"headers":{"Retry-After":"1"},"json":)",
      FcmError(429, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED", "quota"), "},",
      R"({"body_contains":"\"tok-down\"","status":503,"json":)",
      FcmError(503, "UNAVAILABLE", "UNAVAILABLE", "down"), "},",
      R"({"body_contains":"\"tok-internal\"","status":500,"json":)",
      FcmError(500, "INTERNAL", "INTERNAL", "oops"), "}"));
  absl::Time start = absl::Now();
  HttpResult quota = herald_->Notify(Notification({"tok-quota"}));
  EXPECT_EQ(quota.status, 200) << quota.body;
  EXPECT_GE(absl::Now() - start, absl::Seconds(1));  // waited as asked
  EXPECT_EQ(Count(kSendPath), 2);
  HttpResult down = herald_->Notify(Notification({"tok-down", "tok-internal"}));
  EXPECT_EQ(down.status, 502) << down.body;
  EXPECT_EQ(Count(kSendPath), 2 + 3 + 3);
}

TEST_F(GcmTest, RefusedAccessTokenIsRenewedOnce) {
  SetRules(absl::StrCat(R"({"body_contains":"\"tok-401\"","times":1,"status":401,"json":)",
                        FcmError(401, "UNAUTHENTICATED", "THIRD_PARTY_AUTH_ERROR", "expired"),
                        "}"));
  HttpResult r = herald_->Notify(Notification({"tok-401"}));
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Count("/token"), 2);
  EXPECT_EQ(Count(kSendPath), 2);
}

TEST_F(GcmTest, NonObjectDefaultPayloadIsRejectedWithoutUpstreamCall) {
  SetRules("");
  HttpResult r = herald_->Notify(Notification({"tok-x"}, R"({"default_payload":[1,2]})"));
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(RejectedPushkeys(r), std::vector<std::string>{"tok-x"});
  EXPECT_EQ(Count(kSendPath), 0);
}

TEST(GcmConfigTest, LegacyApiIsAClearStartupError) {
  std::string file = TempDir() + "/legacy.yaml";
  WriteFile(file, "apps:\n  com.example.android:\n    type: gcm\n    api_key: AIzaSyExample\n");
  Process p;
  p.Start({Runfile("dispatcher/herald-dispatcher"), "--config", file}, file + ".log");
  int status = p.Wait(absl::Seconds(10));
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1);
  EXPECT_NE(ReadFile(file + ".log")
                .find("apps.com.example.android.api_version: the legacy FCM API was shut down"),
            std::string::npos)
      << ReadFile(file + ".log");
}

}  // namespace
}  // namespace herald::testing
