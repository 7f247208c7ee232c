#include "http/fake_http_client.h"

#include "gtest/gtest.h"

namespace herald::http {
namespace {

HttpRequest Post(const std::string& url) {
  HttpRequest r;
  r.url = url;
  r.body = "{}";
  return r;
}

TEST(FakeHttpClientTest, AnswersFromTheQueueThenTheResponderAndRecords) {
  FakeHttpClient client;
  client.QueueStatus(410, R"({"reason":"Unregistered"})");
  client.QueueError(TransportError::kTimeout);
  client.SetResponder(
      [](const HttpRequest& r) { return StatusResponse(r.url == "/a" ? 201 : 500); });
  std::vector<HttpResponse> got;
  for (const char* url : {"/x", "/y", "/a", "/b"}) {
    client.Send(Post(url), [&](HttpResponse r) { got.push_back(std::move(r)); });
  }
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got[0].status, 410);
  EXPECT_EQ(got[0].body, R"({"reason":"Unregistered"})");
  EXPECT_EQ(got[1].error, TransportError::kTimeout);
  EXPECT_EQ(got[2].status, 201);
  EXPECT_EQ(got[3].status, 500);
  ASSERT_EQ(client.requests().size(), 4u);
  EXPECT_EQ(client.requests()[1].url, "/y");
}

TEST(FakeHttpClientTest, HeldAnswersWaitForRelease) {
  FakeHttpClient client;
  client.Hold();
  int answered = 0;
  client.Send(Post("/x"), [&](const HttpResponse& r) { answered += r.status == 200; });
  EXPECT_EQ(answered, 0);
  EXPECT_EQ(client.held(), 1u);
  client.Release();
  EXPECT_EQ(answered, 1);
  client.Send(Post("/y"), [&](const HttpResponse& r) { answered += r.status == 200; });
  EXPECT_EQ(answered, 2);  // no longer held
}

TEST(FakeHttpClientTest, HeldAnswersAreShutdownWhenTheClientGoes) {
  TransportError got = TransportError::kNone;
  {
    FakeHttpClient client;
    client.Hold();
    client.Send(Post("/x"), [&](const HttpResponse& r) { got = r.error; });
  }
  EXPECT_EQ(got, TransportError::kShutdown);
}

}  // namespace
}  // namespace herald::http
