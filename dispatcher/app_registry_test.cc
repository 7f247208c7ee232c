#include "dispatcher/app_registry.h"

#include "gtest/gtest.h"
#include "http/curl_http_client.h"

namespace herald::dispatcher {
namespace {

class NullProvider : public providers::Provider {
 public:
  void Push(const providers::PushRequest&, std::function<void(providers::Outcome)> done) override {
    done(providers::Outcome::Delivered());
  }
};

App MakeApp(const std::string& pattern) {
  return App{pattern, "null", std::make_unique<NullProvider>()};
}

TEST(AppRegistry, ExactMatchWinsOverGlobs) {
  std::vector<App> apps;
  apps.push_back(MakeApp("im.vector.*"));
  apps.push_back(MakeApp("im.vector.app.ios"));
  apps.push_back(MakeApp("im.*"));
  AppRegistry registry(std::move(apps));
  AppMatch m = registry.Match("im.vector.app.ios");
  ASSERT_NE(m.app, nullptr);
  EXPECT_EQ(m.app->pattern, "im.vector.app.ios");
}

TEST(AppRegistry, SingleGlobMatch) {
  std::vector<App> apps;
  apps.push_back(MakeApp("org.unifiedpush.*"));
  apps.push_back(MakeApp("im.vector.app.ios"));
  AppRegistry registry(std::move(apps));
  AppMatch m = registry.Match("org.unifiedpush.ntfy");
  ASSERT_NE(m.app, nullptr);
  EXPECT_EQ(m.app->pattern, "org.unifiedpush.*");
}

TEST(AppRegistry, UnknownAndAmbiguous) {
  std::vector<App> apps;
  apps.push_back(MakeApp("im.vector.*"));
  apps.push_back(MakeApp("im.*"));
  AppRegistry registry(std::move(apps));
  AppMatch unknown = registry.Match("org.example");
  EXPECT_EQ(unknown.app, nullptr);
  EXPECT_EQ(unknown.reason, "unknown app_id");
  AppMatch ambiguous = registry.Match("im.vector.app");
  EXPECT_EQ(ambiguous.app, nullptr);
  EXPECT_EQ(ambiguous.reason, "app_id matches 2 app globs");
}

TEST(AppRegistry, BuildReportsBadProviderKeys) {
  auto config = ParseConfig(R"(
apps:
  up.good: {type: unifiedpush, allow_private_addresses: true, ttl: 60, junk: 1}
  up.bad: {type: unifiedpush, ttl: -5}
)",
                            "h.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  http::CurlHttpClient http;
  providers::ProviderEnv env{&http};
  std::vector<std::string> warnings;
  auto registry = AppRegistry::Build(**config, env, nullptr, &warnings);
  ASSERT_FALSE(registry.ok());
  EXPECT_EQ(registry.status().message(), "h.yaml: apps.up.bad.ttl: must be between 0 and 2419200");
}

TEST(AppRegistry, BuildWarnsUnknownKeysAndRejectsUnknownTypes) {
  auto config = ParseConfig("apps: {up.good: {type: unifiedpush, junk: 1}}", "h.yaml");
  ASSERT_TRUE(config.ok());
  http::CurlHttpClient http;
  providers::ProviderEnv env{&http};
  std::vector<std::string> warnings;
  auto registry = AppRegistry::Build(**config, env, nullptr, &warnings);
  ASSERT_TRUE(registry.ok()) << registry.status();
  EXPECT_EQ(warnings, std::vector<std::string>{"h.yaml: apps.up.good.junk: unknown key, ignored"});

  auto bad = ParseConfig("apps: {x: {type: carrier-pigeon}}", "h.yaml");
  ASSERT_TRUE(bad.ok());
  auto registry2 = AppRegistry::Build(**bad, env, nullptr, &warnings);
  ASSERT_FALSE(registry2.ok());
  EXPECT_NE(registry2.status().message().find(
                "h.yaml: apps.x.type: unknown provider type 'carrier-pigeon'"),
            std::string::npos)
      << registry2.status().message();
}

}  // namespace
}  // namespace herald::dispatcher
