// The dispatcher as a gRPC service in its own right (other services may call
// it directly), and its start-up checks.
#include <signal.h>
#include <sys/wait.h>

#include <map>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "proto/herald/v1/herald.grpc.pb.h"
#include "proto/herald/v1/protocol.h"
#include "tests/harness/harness.h"

namespace herald::testing {
namespace {

constexpr char kApps[] =
    "  \"org.unifiedpush.*\":\n"
    "    type: unifiedpush\n"
    "    allow_private_addresses: true\n";

std::unique_ptr<herald::v1::Dispatcher::Stub> Connect(const Herald& herald) {
  return herald::v1::Dispatcher::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", herald.dispatcher_port()), grpc::InsecureChannelCredentials()));
}

TEST(DispatcherGrpcTest, PerDeviceOutcomes) {
  FakeProvider fake;
  Herald herald(kApps, "  retry_initial_backoff: 0.05\n  max_attempts: 2\n");
  fake.SetRules(R"([{"path":"/up/gone","status":410},{"path":"/up/down","status":503}])");
  auto stub = Connect(herald);

  herald::v1::DispatchRequest request;
  request.set_request_id("grpc-test-1");
  herald::v1::Notification* n = request.mutable_notification();
  n->set_event_id("$e");
  n->set_room_id("!r:example.org");
  n->set_content_json(R"({"body":"hi","big":18446744073709551615})");
  n->mutable_counts()->set_unread(1);
  const std::string paths[] = {"/up/ok", "/up/gone", "/up/down"};
  for (const std::string& p : paths) {
    herald::v1::Device* d = n->add_devices();
    d->set_app_id("org.unifiedpush.test");
    d->set_pushkey(fake.base_url() + p);
  }
  herald::v1::Device* unknown = n->add_devices();
  unknown->set_app_id("com.example.unknown");
  unknown->set_pushkey("k");

  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  context.AddMetadata("x-request-id", "caller-trace-7");  // names it in the logs
  herald::v1::DispatchResponse response;
  grpc::Status status = stub->Dispatch(&context, request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(Eventually(
      [&] {
        return herald.dispatcher().Log().find(
                   "[caller-trace-7] 4 device(s): 1 delivered, 2 rejected") != std::string::npos;
      },
      absl::Seconds(5)))
      << herald.dispatcher().Log();
  ASSERT_EQ(response.outcomes_size(), 4);
  EXPECT_EQ(response.outcomes(0).outcome(), herald::v1::OUTCOME_DELIVERED);
  EXPECT_EQ(response.outcomes(0).attempts(), 1);
  EXPECT_EQ(response.outcomes(1).outcome(), herald::v1::OUTCOME_REJECTED);
  EXPECT_EQ(response.outcomes(2).outcome(), herald::v1::OUTCOME_RETRY);
  EXPECT_EQ(response.outcomes(2).attempts(), 2);
  EXPECT_EQ(response.outcomes(3).outcome(), herald::v1::OUTCOME_REJECTED);
  EXPECT_EQ(response.outcomes(3).attempts(), 0);
  // The reasons a caller can act on without parsing `detail`.
  EXPECT_EQ(response.outcomes(0).reason(), herald::v1::REASON_PUSHED);
  EXPECT_EQ(response.outcomes(1).reason(), herald::v1::REASON_TOKEN_DEAD);
  EXPECT_EQ(response.outcomes(2).reason(), herald::v1::REASON_PROVIDER_UNAVAILABLE);
  EXPECT_EQ(response.outcomes(3).reason(), herald::v1::REASON_UNROUTABLE);
  ASSERT_EQ(response.rejected_size(), 2);
  EXPECT_EQ(response.rejected(0), fake.base_url() + "/up/gone");
  EXPECT_EQ(response.rejected(1), "k");
  // content went out exactly as given, big integer included.
  rapidjson::Document reqs = fake.Requests(1);
  std::string body = reqs[0]["body"].GetString();
  EXPECT_NE(body.find(R"("content":{"body":"hi","big":18446744073709551615})"), std::string::npos)
      << body;
}

// A request that reaches a draining dispatcher is answered "not started"
// (nothing pushed, safe to send elsewhere), and the stream ends the same way
// once what the dispatcher took is done: fields a caller tests, not text.
TEST(DispatcherGrpcTest, ADrainingDispatcherSaysWhatItDidNotStart) {
  FakeProvider fake;
  Herald herald(kApps, "  deadline: 8\n");
  fake.SetRules(R"([{"path":"/up/slow","delay_ms":3000}])");
  auto stub = Connect(herald);
  grpc::ClientContext context;
  auto stream = stub->DispatchStream(&context);
  auto request = [&](const std::string& id, const std::string& path) {
    herald::v1::DispatchBatch batch;
    herald::v1::DispatchRequest* r = batch.add_requests();
    r->set_request_id(id);
    r->set_timeout_ms(8000);
    herald::v1::Device* d = r->mutable_notification()->add_devices();
    d->set_app_id("org.unifiedpush.test");
    d->set_pushkey(fake.base_url() + path);
    return batch;
  };
  ASSERT_TRUE(stream->Write(request("taken", "/up/slow")));
  ASSERT_EQ(fake.Requests(1).Size(), 1u);  // the push is at the provider
  kill(herald.dispatcher().pid(), SIGTERM);
  // Logged once the dispatcher refuses new notifications.
  auto draining = [&] { return herald.dispatcher().Log().find(": draining") != std::string::npos; };
  for (int i = 0; i < 250 && !draining(); ++i) absl::SleepFor(absl::Milliseconds(20));
  ASSERT_TRUE(draining());
  ASSERT_TRUE(stream->Write(request("late", "/up/late")));
  std::map<std::string, herald::v1::DispatchResult> results;
  herald::v1::DispatchResults got;
  while (results.size() < 2 && stream->Read(&got)) {
    for (const auto& r : got.results()) results[r.request_id()] = r;
  }
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results["taken"].code(), 0);
  EXPECT_FALSE(results["taken"].not_started());
  ASSERT_EQ(results["taken"].response().outcomes_size(), 1);
  EXPECT_EQ(results["taken"].response().outcomes(0).outcome(), herald::v1::OUTCOME_DELIVERED);
  EXPECT_EQ(results["late"].code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_TRUE(results["late"].not_started());
  stream->WritesDone();
  grpc::Status end = stream->Finish();
  EXPECT_EQ(end.error_code(), grpc::StatusCode::UNAVAILABLE) << end.error_message();
  // Trailing metadata any gRPC implementation reads; the status details
  // stay a valid (empty) google.rpc.Status.
  const auto& trailers = context.GetServerTrailingMetadata();
  auto marker = trailers.find(herald::v1::kNotStartedTrailer);
  ASSERT_NE(marker, trailers.end());
  EXPECT_EQ(std::string(marker->second.data(), marker->second.size()), "1");
  EXPECT_TRUE(end.error_details().empty());
  EXPECT_EQ(fake.Requests().Size(), 1u);  // "late" was never pushed
}

TEST(DispatcherGrpcTest, InvalidRequestsAreRefused) {
  Herald herald(kApps);
  auto stub = Connect(herald);
  struct Case {
    std::function<void(herald::v1::DispatchRequest*)> make;
    std::string message;
  };
  const Case cases[] = {
      {[](herald::v1::DispatchRequest*) {}, "notification.devices must not be empty"},
      {[](herald::v1::DispatchRequest* r) {
         auto* d = r->mutable_notification()->add_devices();
         d->set_app_id("a");
         d->set_pushkey("k");
         d->set_data_json("[1]");
       },
       "notification.devices[0].data_json must be a JSON object (nested at most 256 deep)"},
      {[](herald::v1::DispatchRequest* r) {
         r->mutable_notification()->set_content_json("{oops");
         auto* d = r->mutable_notification()->add_devices();
         d->set_app_id("a");
         d->set_pushkey("k");
       },
       "notification.content_json must be a JSON object (nested at most 256 deep)"},
      {[](herald::v1::DispatchRequest* r) {
         // Deeper than any notification: refused, not parsed recursively.
         r->mutable_notification()->set_content_json(
             absl::StrCat("{\"a\":", std::string(100000, '['), std::string(100000, ']'), "}"));
         auto* d = r->mutable_notification()->add_devices();
         d->set_app_id("a");
         d->set_pushkey("k");
       },
       "notification.content_json must be a JSON object (nested at most 256 deep)"},
      {[](herald::v1::DispatchRequest* r) {
         auto* d = r->mutable_notification()->add_devices();
         d->set_app_id("a");
       },
       "notification.devices[0].pushkey must not be empty"},
      {[](herald::v1::DispatchRequest* r) {
         for (int i = 0; i < 1001; ++i) {
           auto* d = r->mutable_notification()->add_devices();
           d->set_app_id("a");
           d->set_pushkey(absl::StrCat("k", i));
         }
       },
       "notification.devices: at most 1000 devices per notification"},
  };
  for (const Case& c : cases) {
    herald::v1::DispatchRequest request;
    c.make(&request);
    grpc::ClientContext context;
    herald::v1::DispatchResponse response;
    grpc::Status status = stub->Dispatch(&context, request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(status.error_message(), c.message);
  }
}

TEST(DispatcherStartupTest, BadConfigStopsStartupWithFileKeyAndReason) {
  struct Case {
    std::string yaml;
    std::string message;
  };
  std::string file = TempDir() + "/bad.yaml";
  const Case cases[] = {
      {"apps:\n  up.x:\n    type: unifiedpush\n    ttl: soon\n",
       file + ": apps.up.x.ttl: must be an integer"},
      {"apps:\n  up.x:\n    type: teleport\n",
       file + ": apps.up.x.type: unknown provider type 'teleport'"},
      {"dispatcher:\n  deadline: 0\n",
       file + ": dispatcher.deadline: must be a positive number of seconds"},
      {"apps: [\n", file + ": line "},
  };
  for (const Case& c : cases) {
    WriteFile(file, c.yaml);
    Process p;
    p.Start({Runfile("dispatcher/herald-dispatcher"), "--config", file}, file + ".log");
    int status = p.Wait(absl::Seconds(10));
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << c.yaml;
    std::string log = ReadFile(file + ".log");
    EXPECT_NE(log.find(c.message), std::string::npos) << log;
  }
  // --check-config on a good file.
  WriteFile(file, absl::StrCat("apps:\n", kApps));
  Process ok;
  ok.Start({Runfile("dispatcher/herald-dispatcher"), "--config", file, "--check-config"},
           file + ".ok.log");
  int status = ok.Wait(absl::Seconds(10));
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_NE(ReadFile(file + ".ok.log").find("OK (1 app(s))"), std::string::npos);
}

}  // namespace
}  // namespace herald::testing
