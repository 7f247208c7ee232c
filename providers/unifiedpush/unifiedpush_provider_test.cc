#include "providers/unifiedpush/unifiedpush_provider.h"

#include "gtest/gtest.h"

namespace herald::providers {
namespace {

http::HttpResponse Answer(int status, http::HttpHeaders headers = {}) {
  http::HttpResponse r;
  r.status = status;
  r.headers = std::move(headers);
  return r;
}

http::HttpResponse Broken(http::TransportError error) {
  http::HttpResponse r;
  r.error = error;
  r.error_detail = "x";
  return r;
}

TEST(ClassifyUnifiedPushResponse, Table) {
  const absl::Time now = absl::FromUnixSeconds(1700000000);
  struct Case {
    http::HttpResponse response;
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
      {Broken(http::TransportError::kTimeout), Outcome::Kind::kRetry},
      {Broken(http::TransportError::kConnect), Outcome::Kind::kRetry},
      {Broken(http::TransportError::kTls), Outcome::Kind::kRetry},
      {Broken(http::TransportError::kOther), Outcome::Kind::kRetry},
      {Broken(http::TransportError::kRefusedAddress), Outcome::Kind::kRejected},
      {Broken(http::TransportError::kBadUrl), Outcome::Kind::kRejected},
  };
  for (const Case& c : cases) {
    Outcome o = ClassifyUnifiedPushResponse(c.response, now);
    EXPECT_EQ(o.kind, c.kind) << "status " << c.response.status << " error "
                              << http::TransportErrorName(c.response.error);
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

}  // namespace
}  // namespace herald::providers
