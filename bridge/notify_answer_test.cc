// The bridge's outcome policy as a table: the dispatcher's answer in, the
// homeserver's status, body and Retry-After out.
#include "bridge/notify_answer.h"

#include <initializer_list>

#include "gtest/gtest.h"

namespace herald::bridge {
namespace {

using herald::v1::DeviceOutcome;
using herald::v1::DispatchResponse;
using herald::v1::Outcome;

struct Device {
  Outcome outcome;
  const char* pushkey = "k";
  int64_t retry_after_ms = 0;
  const char* detail = "";
};

DispatchResponse Response(std::initializer_list<Device> devices) {
  DispatchResponse r;
  for (const Device& d : devices) {
    DeviceOutcome* o = r.add_outcomes();
    o->set_app_id("com.example.app");
    o->set_pushkey(d.pushkey);
    o->set_outcome(d.outcome);
    o->set_retry_after_ms(d.retry_after_ms);
    o->set_detail(d.detail);
    if (d.outcome == herald::v1::OUTCOME_REJECTED) r.add_rejected(d.pushkey);
  }
  return r;
}

struct Case {
  const char* name;
  DispatchResponse response;
  int status;
  const char* body;         // exact
  const char* retry_after;  // null: no header
};

TEST(NotifyAnswerTest, DeviceOutcomesToTheHomeserversAnswer) {
  using namespace herald::v1;
  const Case cases[] = {
      {"all delivered", Response({{OUTCOME_DELIVERED}}), 200, R"({"rejected":[]})", nullptr},
      {"skipped and dropped are done too",
       Response({{OUTCOME_SKIPPED, "a"}, {OUTCOME_DROPPED, "b"}}), 200, R"({"rejected":[]})",
       nullptr},
      {"rejected are listed", Response({{OUTCOME_DELIVERED, "a"}, {OUTCOME_REJECTED, "dead"}}), 200,
       R"({"rejected":["dead"]})", nullptr},
      {"one device to retry makes it 502",
       Response({{OUTCOME_DELIVERED, "a"}, {OUTCOME_RETRY, "b", 0, "upstream answered 503"}}), 502,
       R"({"errcode":"M_UNKNOWN","error":"1 of 2 device(s) could not be pushed (upstream answered 503); try again later"})",
       nullptr},
      {"the longest Retry-After a provider asked for is passed on",
       Response({{OUTCOME_RETRY, "a", 1500, "429"}, {OUTCOME_RETRY, "b", 3600000, "429"}}), 502,
       R"({"errcode":"M_UNKNOWN","error":"2 of 2 device(s) could not be pushed (429); try again later"})",
       "3600"},
      {"a Retry-After in milliseconds is rounded up to seconds",
       Response({{OUTCOME_RETRY, "a", 1500, "429"}}), 502,
       R"({"errcode":"M_UNKNOWN","error":"1 of 1 device(s) could not be pushed (429); try again later"})",
       "2"},
      {"failed (credentials) is 502 without Retry-After",
       Response({{OUTCOME_FAILED, "a", 0, "APNs answered 403"}}), 502,
       R"({"errcode":"M_UNKNOWN","error":"1 of 1 device(s) could not be pushed (APNs answered 403); try again later"})",
       nullptr},
      {"unspecified counts as not pushed", Response({{OUTCOME_UNSPECIFIED}}), 502,
       R"({"errcode":"M_UNKNOWN","error":"1 of 1 device(s) could not be pushed (); try again later"})",
       nullptr},
      {"shed devices are 429 with the wait",
       Response({{OUTCOME_DELIVERED, "a"}, {OUTCOME_LIMITED, "b", 2000}}), 429,
       R"({"errcode":"M_LIMIT_EXCEEDED","error":"1 of 2 device(s) were not pushed: too many pushes in flight","retry_after_ms":2000})",
       "2"},
      {"a shed wait under a second is one second", Response({{OUTCOME_LIMITED, "a", 10}}), 429,
       R"({"errcode":"M_LIMIT_EXCEEDED","error":"1 of 1 device(s) were not pushed: too many pushes in flight","retry_after_ms":1000})",
       "1"},
      {"a failure outweighs shedding",
       Response({{OUTCOME_LIMITED, "a", 2000}, {OUTCOME_RETRY, "b", 0, "timeout"}}), 502,
       R"({"errcode":"M_UNKNOWN","error":"1 of 2 device(s) could not be pushed (timeout); try again later"})",
       nullptr},
  };
  for (const Case& c : cases) {
    NotifyAnswer a = AnswerFor(grpc::Status::OK, &c.response);
    EXPECT_EQ(a.status, c.status) << c.name;
    EXPECT_EQ(a.body, c.body) << c.name;
    if (c.retry_after == nullptr) {
      EXPECT_TRUE(a.headers.empty()) << c.name;
    } else {
      ASSERT_EQ(a.headers.size(), 1u) << c.name;
      EXPECT_EQ(a.headers[0].first, "Retry-After") << c.name;
      EXPECT_EQ(a.headers[0].second, c.retry_after) << c.name;
    }
  }
}

TEST(NotifyAnswerTest, DispatcherErrorsToTheHomeserversAnswer) {
  const struct {
    grpc::StatusCode code;
    int status;
    const char* body;
  } cases[] = {
      {grpc::StatusCode::UNAVAILABLE, 503,
       R"({"errcode":"M_UNKNOWN","error":"the push dispatcher is unavailable; try again later"})"},
      {grpc::StatusCode::DEADLINE_EXCEEDED, 504,
       R"({"errcode":"M_UNKNOWN","error":"delivery did not finish before the deadline; try again later"})"},
      {grpc::StatusCode::INVALID_ARGUMENT, 400, R"({"errcode":"M_BAD_JSON","error":"why"})"},
      {grpc::StatusCode::INTERNAL, 502,
       R"({"errcode":"M_UNKNOWN","error":"the push dispatcher failed: why"})"},
      {grpc::StatusCode::RESOURCE_EXHAUSTED, 502,
       R"({"errcode":"M_UNKNOWN","error":"the push dispatcher failed: why"})"},
  };
  for (const auto& c : cases) {
    NotifyAnswer a = AnswerFor(grpc::Status(c.code, "why"), nullptr);
    EXPECT_EQ(a.status, c.status) << c.code;
    EXPECT_EQ(a.body, c.body) << c.code;
    EXPECT_TRUE(a.headers.empty());
  }
}

TEST(NotifyAnswerTest, ErrorBodiesAreEscapedJson) {
  EXPECT_EQ(MatrixErrorBody("M_BAD_JSON", "a \"quoted\"\nline"),
            R"({"errcode":"M_BAD_JSON","error":"a \"quoted\"\nline"})");
}

}  // namespace
}  // namespace herald::bridge
