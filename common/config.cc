#include "common/config.h"

#include <cmath>
#include <cstdlib>

#include <fstream>
#include <sstream>
#include "absl/strings/str_format.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"

namespace herald {

ConfigMap::ConfigMap(const YAML::Node& node, std::string file, std::string path)
    : node_(node),
      file_(std::move(file)),
      path_(std::move(path)),
      error_(std::make_shared<absl::Status>()) {}

std::string ConfigMap::KeyPath(const std::string& key) const {
  return path_.empty() ? key : absl::StrCat(path_, ".", key);
}

void ConfigMap::Fail(const std::string& key, const std::string& reason) {
  if (!error_->ok()) return;
  *error_ = absl::InvalidArgumentError(
      absl::StrCat(file_, ": ", key.empty() ? path_ : KeyPath(key), ": ", reason));
}

absl::Status ConfigMap::status() const { return *error_; }

bool ConfigMap::Has(const std::string& key) const {
  return node_.IsMap() && node_[key] && !node_[key].IsNull();
}

std::optional<std::string> ConfigMap::String(const std::string& key) {
  used_.insert(key);
  if (!Has(key)) return std::nullopt;
  YAML::Node v = node_[key];
  if (!v.IsScalar()) {
    Fail(key, "must be a string");
    return std::nullopt;
  }
  return v.Scalar();
}

std::string ConfigMap::String(const std::string& key, const std::string& fallback) {
  std::optional<std::string> v = String(key);
  return v ? *v : fallback;
}

bool ConfigMap::Bool(const std::string& key, bool fallback) {
  used_.insert(key);
  if (!Has(key)) return fallback;
  YAML::Node v = node_[key];
  bool out = fallback;
  if (!v.IsScalar() || !YAML::convert<bool>::decode(v, out)) {
    Fail(key, "must be true or false");
    return fallback;
  }
  return out;
}

int64_t ConfigMap::Int(const std::string& key, int64_t fallback, int64_t min, int64_t max) {
  used_.insert(key);
  if (!Has(key)) return fallback;
  YAML::Node v = node_[key];
  int64_t out = 0;
  if (!v.IsScalar() || !absl::SimpleAtoi(v.Scalar(), &out)) {
    Fail(key, "must be an integer");
    return fallback;
  }
  if (out < min || out > max) {
    Fail(key, absl::StrCat("must be between ", min, " and ", max));
    return fallback;
  }
  return out;
}

absl::Duration ConfigMap::Seconds(const std::string& key, absl::Duration fallback) {
  used_.insert(key);
  if (!Has(key)) return fallback;
  YAML::Node v = node_[key];
  double seconds = 0;
  if (!v.IsScalar() || !absl::SimpleAtod(v.Scalar(), &seconds) || !std::isfinite(seconds) ||
      seconds <= 0 || seconds > 86400 * 365) {
    Fail(key, "must be a positive number of seconds");
    return fallback;
  }
  return absl::Seconds(seconds);
}

std::vector<std::string> ConfigMap::StringList(const std::string& key) {
  used_.insert(key);
  std::vector<std::string> out;
  if (!Has(key)) return out;
  YAML::Node v = node_[key];
  if (v.IsScalar()) {
    out.push_back(v.Scalar());
    return out;
  }
  if (!v.IsSequence()) {
    Fail(key, "must be a list of strings");
    return out;
  }
  for (const YAML::Node& item : v) {
    if (!item.IsScalar()) {
      Fail(key, "must be a list of strings");
      return {};
    }
    out.push_back(item.Scalar());
  }
  return out;
}

namespace {

void WriteYamlAsJson(const YAML::Node& node, std::string* out) {
  auto quote = [out](const std::string& text) {
    out->push_back('"');
    for (unsigned char c : text) {
      switch (c) {
        case '"':
          out->append("\\\"");
          break;
        case '\\':
          out->append("\\\\");
          break;
        case '\n':
          out->append("\\n");
          break;
        case '\r':
          out->append("\\r");
          break;
        case '\t':
          out->append("\\t");
          break;
        default:
          if (c < 0x20) {
            absl::StrAppend(out, "\\u00", absl::Hex(c, absl::kZeroPad2));
          } else {
            out->push_back(static_cast<char>(c));
          }
      }
    }
    out->push_back('"');
  };
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      out->push_back('{');
      bool first = true;
      for (const auto& kv : node) {
        if (!first) out->push_back(',');
        first = false;
        quote(kv.first.Scalar());
        out->push_back(':');
        WriteYamlAsJson(kv.second, out);
      }
      out->push_back('}');
      break;
    }
    case YAML::NodeType::Sequence: {
      out->push_back('[');
      bool first = true;
      for (const auto& item : node) {
        if (!first) out->push_back(',');
        first = false;
        WriteYamlAsJson(item, out);
      }
      out->push_back(']');
      break;
    }
    case YAML::NodeType::Scalar: {
      const std::string& text = node.Scalar();
      if (node.Tag() != "!") {  // plain (unquoted) scalar
        bool b;
        int64_t i;
        double d;
        if (text == "null" || text == "~") {
          out->append("null");
          return;
        }
        if (YAML::convert<bool>::decode(node, b) && (text == "true" || text == "false")) {
          out->append(b ? "true" : "false");
          return;
        }
        if (absl::SimpleAtoi(text, &i)) {
          absl::StrAppend(out, i);
          return;
        }
        if (absl::SimpleAtod(text, &d) && std::isfinite(d) &&
            text.find_first_not_of("0123456789.eE+-") == std::string::npos) {
          out->append(text);
          return;
        }
      }
      quote(text);
      break;
    }
    default:
      out->append("null");
  }
}

}  // namespace

std::string YamlToJson(const YAML::Node& node) {
  std::string out;
  WriteYamlAsJson(node, &out);
  return out;
}

std::string ConfigMap::JsonObject(const std::string& key) {
  used_.insert(key);
  if (!Has(key)) return "";
  if (!node_[key].IsMap()) {
    Fail(key, "must be a mapping");
    return "";
  }
  return YamlToJson(node_[key]);
}

ConfigMap ConfigMap::Map(const std::string& key) {
  used_.insert(key);
  YAML::Node v = Has(key) ? node_[key] : YAML::Node(YAML::NodeType::Map);
  if (!v.IsMap()) {
    Fail(key, "must be a mapping");
    v = YAML::Node(YAML::NodeType::Map);
  }
  ConfigMap child(v, file_, KeyPath(key));
  child.error_ = error_;
  return child;
}

std::vector<std::string> ConfigMap::UnknownKeyWarnings() const {
  std::vector<std::string> out;
  if (!node_.IsMap()) return out;
  for (const auto& kv : node_) {
    std::string key = kv.first.IsScalar() ? kv.first.Scalar() : "?";
    if (used_.count(key) == 0) {
      out.push_back(absl::StrCat(file_, ": ", KeyPath(key), ": unknown key, ignored"));
    }
  }
  return out;
}

namespace {

void Append(std::vector<std::string>* to, std::vector<std::string> from) {
  for (auto& s : from) to->push_back(std::move(s));
}

}  // namespace

absl::StatusOr<std::shared_ptr<const Config>> ParseConfig(const std::string& yaml_text,
                                                          const std::string& file) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(file, ": line ", e.mark.line + 1, ", column ",
                                                   e.mark.column + 1, ": not valid YAML: ", e.msg));
  }
  if (root.IsNull()) root = YAML::Node(YAML::NodeType::Map);
  if (!root.IsMap()) {
    return absl::InvalidArgumentError(absl::StrCat(file, ": the top level must be a mapping"));
  }
  auto config = std::make_shared<Config>();
  config->file = file;
  ConfigMap top(root, file, "");

  ConfigMap log = top.Map("log");
  config->log_level = log.String("level", "info");
  config->log_format = log.String("format", "text");
  // Sygnal's keys that Herald does not do: accepted, and named in a warning
  // so that an operator swapping Sygnal for Herald knows what is lost.
  auto unsupported = [&](ConfigMap& map, const std::string& key, const std::string& why) {
    map.Accept(key);
    if (map.Has(key)) {
      config->warnings.push_back(absl::StrCat(file, ": ",
                                              map.path().empty() ? "" : map.path() + ".", key,
                                              ": not supported by Herald, ignored (", why, ")"));
    }
  };
  unsupported(log, "setup",
              "Python logging config; Herald logs one line per event to stderr, log.level "
              "sets the level");
  ConfigMap access = log.Map("access");
  config->log_access.enabled = access.Bool("enabled", config->log_access.enabled);
  config->log_access.x_forwarded_for =
      access.Bool("x_forwarded_for", config->log_access.x_forwarded_for);

  ConfigMap http = top.Map("http");
  config->http.bind_addresses = http.StringList("bind_addresses");
  if (config->http.bind_addresses.empty()) config->http.bind_addresses = {"127.0.0.1"};
  config->http.port = static_cast<int>(http.Int("port", 5000, 0, 65535));
  config->http.max_body_bytes = http.Int("max_body_bytes", 512 * 1024, 1024, 64 << 20);
  config->http.io_threads = static_cast<int>(http.Int("io_threads", 2, 1, 256));
  config->http.header_timeout = http.Seconds("header_timeout", config->http.header_timeout);
  config->http.body_timeout = http.Seconds("body_timeout", config->http.body_timeout);
  config->http.drain_timeout = http.Seconds("drain_timeout", config->http.drain_timeout);
  config->http.max_connections = http.Int("max_connections", 10000, 1, 10000000);
  config->http.tls_cert_file = http.String("tls_cert_file", "");
  config->http.tls_key_file = http.String("tls_key_file", "");
  if (config->http.tls_cert_file.empty() != config->http.tls_key_file.empty()) {
    http.Fail(config->http.tls_cert_file.empty() ? "tls_cert_file" : "tls_key_file",
              "required with the other: TLS needs a certificate and its key");
  }

  ConfigMap disp = top.Map("dispatcher");
  config->dispatcher.listen = disp.String("listen", config->dispatcher.listen);
  config->dispatcher.target = disp.String("target", config->dispatcher.target);
  config->dispatcher.deadline = disp.Seconds("deadline", config->dispatcher.deadline);
  config->dispatcher.retry_initial_backoff =
      disp.Seconds("retry_initial_backoff", config->dispatcher.retry_initial_backoff);
  config->dispatcher.max_attempts =
      static_cast<int>(disp.Int("max_attempts", config->dispatcher.max_attempts, 1, 20));
  config->dispatcher.streams =
      static_cast<int>(disp.Int("streams", config->dispatcher.streams, 1, 64));
  config->dispatcher.dedup_ttl = disp.Seconds("dedup_ttl", config->dispatcher.dedup_ttl);
  if (disp.Has("dedup")) {
    ConfigMap dedup = disp.Map("dedup");
    DispatcherConfig::Dedup& d = config->dispatcher.dedup;
    d.backend = dedup.String("backend", d.backend);
    if (d.backend != "memory" && d.backend != "redis") {
      dedup.Fail("backend", "must be memory or redis");
    }
    ConfigMap redis = dedup.Map("redis");
    d.redis_url = redis.String("url", "");
    d.redis_timeout = absl::Milliseconds(redis.Int("timeout_ms", 50, 1, 1000));
    if (d.backend == "redis" && d.redis_url.empty()) {
      redis.Fail("url", "required with backend: redis (redis://[:password@]host:port/db)");
    }
    Append(&config->warnings, dedup.UnknownKeyWarnings());
    Append(&config->warnings, redis.UnknownKeyWarnings());
  }
  config->dispatcher.resolve_interval =
      disp.Seconds("resolve_interval", config->dispatcher.resolve_interval);
  if (config->dispatcher.resolve_interval < absl::Seconds(1)) {
    disp.Fail("resolve_interval", "must be at least 1 second");
  }
  config->dispatcher.max_connection_age =
      disp.Seconds("max_connection_age", config->dispatcher.max_connection_age);
  if (config->dispatcher.max_connection_age < absl::Seconds(10)) {
    disp.Fail("max_connection_age", "must be at least 10 seconds");
  }
  if (disp.Has("tls")) {
    ConfigMap tls = disp.Map("tls");
    DispatcherConfig::Tls& t = config->dispatcher.tls;
    t.cert_file = tls.String("cert_file", "");
    t.key_file = tls.String("key_file", "");
    t.ca_file = tls.String("ca_file", "");
    for (const auto& [key, value] : {std::pair{"cert_file", &t.cert_file},
                                     {"key_file", &t.key_file},
                                     {"ca_file", &t.ca_file}}) {
      if (value->empty())
        tls.Fail(key, "required: mutual TLS needs a certificate, its key and the CA");
    }
    Append(&config->warnings, tls.UnknownKeyWarnings());
  }
  config->dispatcher.metrics_listen = disp.String("metrics_listen", "");
  config->dispatcher.http_threads =
      static_cast<int>(disp.Int("http_threads", config->dispatcher.http_threads, 1, 64));
  config->dispatcher.worker_threads =
      static_cast<int>(disp.Int("worker_threads", config->dispatcher.worker_threads, 0, 256));
  config->dispatcher.dedup_max_entries =
      disp.Int("dedup_max_entries", config->dispatcher.dedup_max_entries, 0, 100000000);

  ConfigMap metrics = top.Map("metrics");
  ConfigMap prometheus = metrics.Map("prometheus");
  config->prometheus.enabled = prometheus.Bool("enabled", false);
  config->prometheus.address = prometheus.String("address", config->prometheus.address);
  config->prometheus.port =
      static_cast<int>(prometheus.Int("port", config->prometheus.port, 0, 65535));
  unsupported(metrics, "sentry", "Sentry error reporting");
  unsupported(metrics, "opentracing", "OpenTracing spans");

  config->proxy = top.String("proxy", "");
  if (config->proxy.empty()) {
    // Sygnal's fallback; the lowercase name is what libcurl reads too.
    for (const char* name : {"HTTPS_PROXY", "https_proxy"}) {
      const char* env = std::getenv(name);
      if (env != nullptr && *env != '\0') {
        config->proxy = env;
        break;
      }
    }
  }

  ConfigMap apps = top.Map("apps");
  if (apps.status().ok()) {
    for (const auto& kv : apps.node()) {
      std::string app_id = kv.first.IsScalar() ? kv.first.Scalar() : "";
      apps.Accept(app_id);
      if (app_id.empty()) {
        apps.Fail("", "app ids must be non-empty strings");
        break;
      }
      if (!kv.second.IsMap()) {
        apps.Fail(app_id, "must be a mapping with at least `type`");
        break;
      }
      ConfigMap app(kv.second, file, absl::StrCat("apps.", app_id));
      std::optional<std::string> type = app.String("type");
      if (!type) {
        app.Fail("type", "missing (one of apns, gcm, webpush, unifiedpush)");
        return app.status();
      }
      if (!app.status().ok()) return app.status();
      config->apps.push_back(AppConfig{app_id, *type, kv.second});
    }
  }
  if (!top.status().ok()) return top.status();

  LogLevel ignored;
  if (!ParseLogLevel(config->log_level, &ignored)) {
    return absl::InvalidArgumentError(
        absl::StrCat(file, ": log.level: must be debug, info, warning or error"));
  }
  if (config->log_format != "text" && config->log_format != "json") {
    return absl::InvalidArgumentError(absl::StrCat(file, ": log.format: must be text or json"));
  }
  Append(&config->warnings, top.UnknownKeyWarnings());
  Append(&config->warnings, log.UnknownKeyWarnings());
  Append(&config->warnings, access.UnknownKeyWarnings());
  Append(&config->warnings, http.UnknownKeyWarnings());
  Append(&config->warnings, disp.UnknownKeyWarnings());
  Append(&config->warnings, metrics.UnknownKeyWarnings());
  Append(&config->warnings, prometheus.UnknownKeyWarnings());
  return std::shared_ptr<const Config>(std::move(config));
}

bool MetricsOnNotifyPort(const Config& config) {
  return config.prometheus.enabled && config.prometheus.port != 0 &&
         config.prometheus.port == config.http.port;
}

std::string DefaultConfigFile() {
  const char* env = std::getenv("SYGNAL_CONF");
  return env != nullptr && *env != '\0' ? std::string(env) : std::string("sygnal.yaml");
}

std::string RedactProxy(const std::string& proxy) {
  // Everything before the last '@' after the scheme is user info, whatever
  // characters an unencoded password holds; a host never contains '@'.
  const size_t scheme = proxy.find("://");
  const size_t start = scheme == std::string::npos ? 0 : scheme + 3;
  const size_t at = proxy.rfind('@');
  if (at == std::string::npos || at < start) return proxy;
  return absl::StrCat(proxy.substr(0, start), "***@", proxy.substr(at + 1));
}

absl::StatusOr<std::shared_ptr<const Config>> LoadConfigFile(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(absl::StrCat(file, ": cannot read the config file"));
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  return ParseConfig(buffer.str(), file);
}

}  // namespace herald
