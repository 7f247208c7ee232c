#include "bridge/access_log.h"

#include "gtest/gtest.h"

namespace herald::bridge {
namespace {

TEST(AccessLogTest, ARequestIdIsKeptOnlyWhenItIsSafeInALogLineAndAHeader) {
  EXPECT_EQ(UsableRequestId("4f2a-b9c1"), "4f2a-b9c1");
  EXPECT_EQ(UsableRequestId("req:42/a.b_c"), "req:42/a.b_c");
  EXPECT_EQ(UsableRequestId(std::string(128, 'a')), std::string(128, 'a'));
  for (const std::string& bad :
       {std::string(""), std::string(129, 'a'), std::string("a b"), std::string("a\"b"),
        std::string("a\\b"), std::string("a\nb"), std::string("a\x7f"), std::string("\xc3\xa9")}) {
    EXPECT_EQ(UsableRequestId(bad), "") << bad;
  }
}

TEST(AccessLogTest, TheClientIsThePeerUnlessXForwardedForIsTrusted) {
  EXPECT_EQ(ClientAddress("10.0.0.2", "203.0.113.5, 10.0.0.1", false), "10.0.0.2");
  EXPECT_EQ(ClientAddress("10.0.0.2", "203.0.113.5, 10.0.0.1", true), "203.0.113.5");
  EXPECT_EQ(ClientAddress("10.0.0.2", " 2001:db8::7 ", true), "2001:db8::7");
  EXPECT_EQ(ClientAddress("10.0.0.2", "", true), "10.0.0.2");
  EXPECT_EQ(ClientAddress("10.0.0.2", "evil \"quoted\"", true), "10.0.0.2");
}

TEST(AccessLogTest, TheLineCountsEachOutcome) {
  herald::v1::DispatchResponse response;
  for (herald::v1::Outcome o :
       {herald::v1::OUTCOME_DELIVERED, herald::v1::OUTCOME_DELIVERED, herald::v1::OUTCOME_REJECTED,
        herald::v1::OUTCOME_DROPPED, herald::v1::OUTCOME_RETRY, herald::v1::OUTCOME_LIMITED}) {
    response.add_outcomes()->set_outcome(o);
  }
  AccessRecord r;
  r.request_id = "abc";
  r.client = "127.0.0.1";
  r.status = 503;
  r.devices = 6;
  r.duration = absl::Microseconds(3250);
  CountOutcomes(response, &r);
  EXPECT_EQ(AccessLine(r),
            "access request_id=abc client=127.0.0.1 status=503 devices=6 delivered=2 rejected=1 "
            "dropped=1 other=2 duration_ms=3.2");
  AccessRecord empty;
  empty.request_id = "x";
  empty.status = 400;
  EXPECT_EQ(AccessLine(empty),
            "access request_id=x client=- status=400 devices=0 delivered=0 rejected=0 dropped=0 "
            "other=0 duration_ms=0.0");
}

}  // namespace
}  // namespace herald::bridge
