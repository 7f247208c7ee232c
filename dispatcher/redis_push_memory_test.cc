// ParseRedisUrl (the memory itself against a real redis-server is in
// tests/integration/redis_memory_test.cc).
#include "dispatcher/redis_push_memory.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace herald::dispatcher {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(RedisUrlTest, TheFormsOperatorsWrite) {
  absl::StatusOr<RedisAddress> a = ParseRedisUrl("redis://redis.internal:6380/2");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->host, "redis.internal");
  EXPECT_EQ(a->port, 6380);
  EXPECT_EQ(a->db, 2);
  EXPECT_EQ(a->password, "");

  absl::StatusOr<RedisAddress> b = ParseRedisUrl("redis://:s3cret@10.0.0.5");
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->host, "10.0.0.5");
  EXPECT_EQ(b->port, 6379);
  EXPECT_EQ(b->db, 0);
  EXPECT_EQ(b->user, "");
  EXPECT_EQ(b->password, "s3cret");

  absl::StatusOr<RedisAddress> c = ParseRedisUrl("redis://herald:p@ss@[fd00::7]:7000/");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->host, "fd00::7");
  EXPECT_EQ(c->port, 7000);
  EXPECT_EQ(c->user, "herald");
  EXPECT_EQ(c->password, "p@ss");
}

TEST(RedisUrlTest, MistakesAreNamedWithoutThePassword) {
  struct Case {
    const char* url;
    const char* says;
  } cases[] = {
      {"http://redis:6379", "must start with redis://"},
      {"rediss://:hunter2@redis:6379", "no TLS"},
      {"redis://hunter2@redis", "[user]:password@"},
      {"redis://:hunter2@", "no host"},
      {"redis://redis:0", "1 to 65535"},
      {"redis://redis:port", "1 to 65535"},
      {"redis://redis/first", "must be a number"},
      {"redis://[fd00::7:6379", "unclosed ["},
      {"redis://[::1]x", "text after ]"},
      {"redis://::1", "goes in [ ]"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<RedisAddress> a = ParseRedisUrl(c.url);
    ASSERT_FALSE(a.ok()) << c.url;
    EXPECT_THAT(a.status().message(), HasSubstr(c.says)) << c.url;
    EXPECT_THAT(a.status().message(), HasSubstr("dispatcher.dedup.redis.url")) << c.url;
    EXPECT_THAT(a.status().message(), Not(HasSubstr("hunter2"))) << c.url;
  }
}

}  // namespace
}  // namespace herald::dispatcher
