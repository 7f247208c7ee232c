#include "common/config.h"

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace herald {
namespace {

TEST(Config, DefaultsFromEmptyFile) {
  auto config = ParseConfig("", "herald.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ((*config)->http.port, 5000);
  EXPECT_EQ((*config)->http.bind_addresses, std::vector<std::string>{"127.0.0.1"});
  EXPECT_EQ((*config)->http.max_body_bytes, 512 * 1024);
  EXPECT_EQ((*config)->dispatcher.deadline, absl::Seconds(10));
  EXPECT_EQ((*config)->dispatcher.http_threads, 2);
  EXPECT_EQ((*config)->dispatcher.worker_threads, 0);
  EXPECT_TRUE((*config)->apps.empty());
}

TEST(Config, SygnalStyleFile) {
  auto config = ParseConfig(R"(
log:
  setup: {version: 1}
  level: debug
http:
  bind_addresses: ['0.0.0.0', '::']
  port: 5001
dispatcher:
  listen: 127.0.0.1:6000
  target: dns:///127.0.0.1:6000
  deadline: 2.5
apps:
  im.vector.app.android:
    type: gcm
    api_version: v1
  "org.unifiedpush.*":
    type: unifiedpush
)",
                            "sygnal.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  const Config& c = **config;
  EXPECT_EQ(c.http.bind_addresses, (std::vector<std::string>{"0.0.0.0", "::"}));
  EXPECT_EQ(c.http.port, 5001);
  EXPECT_EQ(c.dispatcher.listen, "127.0.0.1:6000");
  EXPECT_EQ(c.dispatcher.deadline, absl::Milliseconds(2500));
  EXPECT_EQ(c.log_level, "debug");
  ASSERT_EQ(c.apps.size(), 2u);
  EXPECT_EQ(c.apps[0].pattern, "im.vector.app.android");
  EXPECT_EQ(c.apps[0].type, "gcm");
  EXPECT_EQ(c.apps[1].pattern, "org.unifiedpush.*");
  // What Herald does not do is named, not silently ignored.
  ASSERT_EQ(c.warnings.size(), 1u);
  EXPECT_EQ(c.warnings[0],
            "sygnal.yaml: log.setup: not supported by Herald, ignored (Python logging config; "
            "Herald logs one line per event to stderr, log.level sets the level)");
}

TEST(Config, SygnalMetricsProxyAndUnsupportedKeys) {
  auto config = ParseConfig(R"(
log:
  access: {x_forwarded_for: true}
proxy: http://user:secret@proxy.example.org:3128
metrics:
  prometheus: {enabled: true, address: "::", port: 8001}
  sentry: {enabled: false}
  opentracing: {enabled: false}
)",
                            "sygnal.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  const Config& c = **config;
  EXPECT_TRUE(c.prometheus.enabled);
  EXPECT_EQ(c.prometheus.address, "::");
  EXPECT_EQ(c.prometheus.port, 8001);
  EXPECT_EQ(c.proxy, "http://user:secret@proxy.example.org:3128");
  EXPECT_EQ(RedactProxy(c.proxy), "http://***@proxy.example.org:3128");
  EXPECT_EQ(RedactProxy("http://proxy:3128"), "http://proxy:3128");
  // Unencoded '/' and '@' in a password still never show.
  EXPECT_EQ(RedactProxy("http://u:pa/ss@w@proxy:3128"), "http://***@proxy:3128");
  EXPECT_EQ(RedactProxy("u:secret@proxy:3128"), "***@proxy:3128");
  std::string all;
  for (const std::string& w : c.warnings) all += w + "\n";
  for (const char* key : {"metrics.sentry", "metrics.opentracing"}) {
    EXPECT_NE(all.find(absl::StrCat("sygnal.yaml: ", key, ": not supported by Herald")),
              std::string::npos)
        << key << "\n"
        << all;
  }
  EXPECT_EQ(c.warnings.size(), 2u) << all;
  // log.access is Herald's too: on, and x_forwarded_for as given.
  EXPECT_TRUE(c.log_access.enabled);
  EXPECT_TRUE(c.log_access.x_forwarded_for);
  // Absent: off, on Sygnal's default address.
  auto plain = ParseConfig("", "x.yaml");
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE((*plain)->prometheus.enabled);
  EXPECT_EQ((*plain)->prometheus.port, 8000);
}

struct BadCase {
  const char* yaml;
  const char* expected_message;
};

TEST(Config, ErrorsNameFileKeyAndReason) {
  const BadCase cases[] = {
      {"http: {port: 70000}", "h.yaml: http.port: must be between 0 and 65535"},
      {"http: {port: five}", "h.yaml: http.port: must be an integer"},
      {"http: [1, 2]", "h.yaml: http: must be a mapping"},
      {"dispatcher: {deadline: -1}",
       "h.yaml: dispatcher.deadline: must be a positive number of seconds"},
      {"dispatcher: {http_threads: 0}",
       "h.yaml: dispatcher.http_threads: must be between 1 and 64"},
      {"dispatcher: {worker_threads: -1}",
       "h.yaml: dispatcher.worker_threads: must be between 0 and 256"},
      {"dispatcher: {dedup: {backend: disk}}",
       "h.yaml: dispatcher.dedup.backend: must be memory or redis"},
      {"dispatcher: {dedup: {backend: redis}}",
       "h.yaml: dispatcher.dedup.redis.url: required with backend: redis"},
      {"dispatcher: {dedup: {redis: {timeout_ms: 0}}}",
       "h.yaml: dispatcher.dedup.redis.timeout_ms: must be between 1 and 1000"},
      {"dispatcher: {tls: {cert_file: a.pem}}", "h.yaml: dispatcher.tls.key_file: required"},
      {"dispatcher: {resolve_interval: 0.5}",
       "h.yaml: dispatcher.resolve_interval: must be at least 1 second"},
      {"dispatcher: {max_connection_age: 5}",
       "h.yaml: dispatcher.max_connection_age: must be at least 10 seconds"},
      {"http: {tls_cert_file: a.pem}", "h.yaml: http.tls_key_file: required with the other"},
      {"apps: {a: {endpoint: x}}", "h.yaml: apps.a.type: missing"},
      {"apps: {a: 3}", "h.yaml: apps.a: must be a mapping"},
      {"apps: [a]", "h.yaml: apps: must be a mapping"},
      {"log: {level: loud}", "h.yaml: log.level: must be debug, info, warning or error"},
      {"log: {format: xml}", "h.yaml: log.format: must be text or json"},
      {"http: {port: 1\n  bad", "h.yaml: line "},
      {"- 1\n- 2", "h.yaml: the top level must be a mapping"},
  };
  for (const BadCase& c : cases) {
    auto config = ParseConfig(c.yaml, "h.yaml");
    ASSERT_FALSE(config.ok()) << c.yaml;
    EXPECT_NE(config.status().message().find(c.expected_message), std::string::npos)
        << "yaml: " << c.yaml << "\ngot: " << config.status().message();
  }
}

TEST(Config, UnknownKeysAreWarnedNotFatal) {
  auto config = ParseConfig("http: {port: 5000, prot: 1}\nextra: 1\n", "h.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_EQ((*config)->warnings.size(), 2u);
  EXPECT_EQ((*config)->warnings[0], "h.yaml: extra: unknown key, ignored");
  EXPECT_EQ((*config)->warnings[1], "h.yaml: http.prot: unknown key, ignored");
}

TEST(Config, MissingFile) {
  auto config = LoadConfigFile("/nonexistent/herald.yaml");
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().message(), "/nonexistent/herald.yaml: cannot read the config file");
}

TEST(ConfigMap, ProviderKeys) {
  YAML::Node node =
      YAML::Load("{type: x, timeout: 3, allowed_endpoints: ['a', 'b'], flag: yes, junk: 1}");
  ConfigMap map(node, "f.yaml", "apps.x");
  map.Accept("type");
  EXPECT_EQ(map.Seconds("timeout", absl::Seconds(1)), absl::Seconds(3));
  EXPECT_EQ(map.StringList("allowed_endpoints"), (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(map.Bool("flag", false));
  EXPECT_TRUE(map.status().ok());
  EXPECT_EQ(map.UnknownKeyWarnings(),
            std::vector<std::string>{"f.yaml: apps.x.junk: unknown key, ignored"});
  map.Bool("type", false);
  EXPECT_EQ(map.status().message(), "f.yaml: apps.x.type: must be true or false");
}

}  // namespace
}  // namespace herald

namespace herald {
namespace {

TEST(YamlToJson, TypesAndEscapes) {
  YAML::Node node = YAML::Load(
      "{android: {ttl: '3600s', priority: high, direct_boot_ok: true, n: 5, f: 1.5, z: null},"
      " quoted: \"7\", list: [a, 2], text: \"a\\\"b\\\\c\\n\"}");
  EXPECT_EQ(
      YamlToJson(node),
      R"({"android":{"ttl":"3600s","priority":"high","direct_boot_ok":true,"n":5,"f":1.5,"z":null},)"
      R"("quoted":"7","list":["a",2],"text":"a\"b\\c\n"})");
}

TEST(ConfigMap, JsonObject) {
  ConfigMap map(YAML::Load("{fcm_options: {android: {ttl: 60s}}, bad: 3}"), "f.yaml", "apps.x");
  EXPECT_EQ(map.JsonObject("fcm_options"), R"({"android":{"ttl":"60s"}})");
  EXPECT_EQ(map.JsonObject("absent"), "");
  EXPECT_EQ(map.JsonObject("bad"), "");
  EXPECT_EQ(map.status().message(), "f.yaml: apps.x.bad: must be a mapping");
}

}  // namespace
}  // namespace herald
