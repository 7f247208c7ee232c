#include "providers/unifiedpush/unifiedpush_provider.h"

#include "gtest/gtest.h"

namespace herald::providers {
namespace {

HttpResponse Answer(int status, HttpHeaders headers = {}) {
  HttpResponse r;
  r.status = status;
  r.headers = std::move(headers);
  return r;
}

HttpResponse Broken(TransportError error) {
  HttpResponse r;
  r.error = error;
  r.error_detail = "x";
  return r;
}

TEST(ClassifyUnifiedPushResponse, Table) {
  const absl::Time now = absl::FromUnixSeconds(1700000000);
  struct Case {
    HttpResponse response;
    Outcome::Kind kind;
  };
  const Case cases[] = {
      {Answer(200), Outcome::Kind::kDelivered},
      {Answer(201), Outcome::Kind::kDelivered},
      {Answer(202), Outcome::Kind::kDelivered},
      {Answer(404), Outcome::Kind::kRejected},
      {Answer(410), Outcome::Kind::kRejected},
      {Answer(429), Outcome::Kind::kRetry},
      {Answer(500), Outcome::Kind::kRetry},
      {Answer(502), Outcome::Kind::kRetry},
      {Answer(503), Outcome::Kind::kRetry},
      {Answer(400), Outcome::Kind::kDropped},
      {Answer(401), Outcome::Kind::kFailed},
      {Answer(403), Outcome::Kind::kFailed},
      {Answer(413), Outcome::Kind::kDropped},
      {Answer(301), Outcome::Kind::kFailed},  // redirects are never followed
      {Broken(TransportError::kTimeout), Outcome::Kind::kRetry},
      {Broken(TransportError::kConnect), Outcome::Kind::kRetry},
      {Broken(TransportError::kTls), Outcome::Kind::kRetry},
      {Broken(TransportError::kOther), Outcome::Kind::kRetry},
      {Broken(TransportError::kRefusedAddress), Outcome::Kind::kRejected},
      {Broken(TransportError::kBadUrl), Outcome::Kind::kRejected},
  };
  for (const Case& c : cases) {
    Outcome o = ClassifyUnifiedPushResponse(c.response, now);
    EXPECT_EQ(o.kind, c.kind) << "status " << c.response.status << " error "
                              << TransportErrorName(c.response.error);
  }
}

TEST(ClassifyUnifiedPushResponse, RetryAfterIsHonoured) {
  const absl::Time now = absl::FromUnixSeconds(1445412480);  // 2015-10-21 07:28:00 UTC
  Outcome seconds = ClassifyUnifiedPushResponse(Answer(429, {{"retry-after", "3"}}), now);
  EXPECT_EQ(seconds.retry_after, absl::Seconds(3));
  Outcome date = ClassifyUnifiedPushResponse(
      Answer(503, {{"retry-after", "Wed, 21 Oct 2015 07:28:07 GMT"}}), now);
  EXPECT_EQ(date.retry_after, absl::Seconds(7));
  Outcome junk = ClassifyUnifiedPushResponse(Answer(503, {{"retry-after", "soon"}}), now);
  EXPECT_EQ(junk.retry_after, absl::ZeroDuration());
  // A date centuries ahead is capped like delta-seconds (a day), so nothing
  // downstream overflows adding to it.
  Outcome far = ClassifyUnifiedPushResponse(
      Answer(503, {{"retry-after", "Mon, 01 Jan 999999999 00:00:00 GMT"}}), now);
  EXPECT_LE(far.retry_after, absl::Seconds(86400));
}

TEST(IsPrivateAddress, Table) {
  EXPECT_TRUE(IsPrivateAddress("127.0.0.1"));
  EXPECT_TRUE(IsPrivateAddress("10.1.2.3"));
  EXPECT_TRUE(IsPrivateAddress("172.16.0.1"));
  EXPECT_TRUE(IsPrivateAddress("172.31.255.255"));
  EXPECT_FALSE(IsPrivateAddress("172.32.0.1"));
  EXPECT_TRUE(IsPrivateAddress("192.168.1.1"));
  EXPECT_TRUE(IsPrivateAddress("169.254.169.254"));  // cloud metadata
  EXPECT_TRUE(IsPrivateAddress("100.64.0.1"));
  EXPECT_TRUE(IsPrivateAddress("0.0.0.0"));
  EXPECT_TRUE(IsPrivateAddress("224.0.0.1"));
  EXPECT_FALSE(IsPrivateAddress("8.8.8.8"));
  EXPECT_FALSE(IsPrivateAddress("93.184.216.34"));
  EXPECT_TRUE(IsPrivateAddress("::1"));
  EXPECT_TRUE(IsPrivateAddress("::"));
  EXPECT_TRUE(IsPrivateAddress("fe80::1"));
  EXPECT_TRUE(IsPrivateAddress("fd00::1"));
  EXPECT_TRUE(IsPrivateAddress("::ffff:127.0.0.1"));
  EXPECT_TRUE(IsPrivateAddress("::ffff:192.168.0.1"));
  EXPECT_FALSE(IsPrivateAddress("::ffff:8.8.8.8"));
  EXPECT_TRUE(IsPrivateAddress("64:ff9b::a00:1"));  // NAT64 of 10.0.0.1
  EXPECT_FALSE(IsPrivateAddress("2001:4860:4860::8888"));
  EXPECT_TRUE(IsPrivateAddress("not an address"));
}

}  // namespace
}  // namespace herald::providers
