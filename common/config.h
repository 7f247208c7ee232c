// Herald's YAML configuration: one file for both services, Sygnal's keys where
// the meaning is the same. Loaded once into an immutable snapshot.
#pragma once

#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "yaml-cpp/yaml.h"

namespace herald {

// Reads the keys of one YAML mapping, remembering the first error (with the
// file and the dotted key path) and which keys were used, so that unknown
// keys can be warned about.
class ConfigMap {
 public:
  ConfigMap(const YAML::Node& node, std::string file, std::string path);

  std::optional<std::string> String(const std::string& key);
  std::string String(const std::string& key, const std::string& fallback);
  bool Bool(const std::string& key, bool fallback);
  int64_t Int(const std::string& key, int64_t fallback, int64_t min, int64_t max);
  // Seconds as a number ("10", "0.5") → duration; must be > 0.
  absl::Duration Seconds(const std::string& key, absl::Duration fallback);
  std::vector<std::string> StringList(const std::string& key);
  // A nested mapping rendered as JSON object text ("" when absent). Plain
  // scalars become numbers, booleans or null when they read as such; quoted
  // ones stay strings.
  std::string JsonObject(const std::string& key);
  // A nested mapping (absent → empty map).
  ConfigMap Map(const std::string& key);
  bool Has(const std::string& key) const;
  // Marks a key as known without reading it.
  void Accept(const std::string& key) { used_.insert(key); }

  // Records an error about `key` (the first one wins).
  void Fail(const std::string& key, const std::string& reason);
  // The first error, if any: "FILE: KEY: reason".
  absl::Status status() const;
  // "FILE: KEY: unknown key, ignored" for every key never read or accepted.
  std::vector<std::string> UnknownKeyWarnings() const;
  const std::string& path() const { return path_; }
  const std::string& file() const { return file_; }
  YAML::Node node() const { return node_; }

 private:
  std::string KeyPath(const std::string& key) const;

  YAML::Node node_;
  std::string file_;
  std::string path_;
  std::set<std::string> used_;
  std::shared_ptr<absl::Status> error_;  // shared with nested maps
};

struct HttpConfig {
  std::vector<std::string> bind_addresses = {"127.0.0.1"};
  int port = 5000;
  int64_t max_body_bytes = 512 * 1024;
  int io_threads = 2;
  // Once a request has begun: its headers must arrive within this, then
  // its body within body_timeout; else the connection is closed.
  absl::Duration header_timeout = absl::Seconds(10);
  absl::Duration body_timeout = absl::Seconds(10);
  // SIGTERM: how long the bridge waits for the notifications it holds
  // before it exits (inside Kubernetes' default 30 s grace period).
  absl::Duration drain_timeout = absl::Seconds(20);
  // Open connections the bridge keeps; at the cap the longest-idle one is
  // closed for a newcomer (none idle: the newcomer is refused).
  int64_t max_connections = 10000;
  // TLS on the listener (PEM: the certificate chain and its key); both
  // empty = plain HTTP, as usual behind a TLS-terminating proxy.
  std::string tls_cert_file;
  std::string tls_key_file;
};

struct DispatcherConfig {
  std::string listen = "127.0.0.1:50051";
  std::string target = "dns:///127.0.0.1:50051";
  // Upper bound for one notify request, end to end.
  absl::Duration deadline = absl::Seconds(10);
  // First retry backoff; doubles each attempt, with jitter.
  absl::Duration retry_initial_backoff = absl::Milliseconds(250);
  int max_attempts = 4;
  // Long-lived DispatchStream calls the bridge keeps open to each
  // dispatcher address the target resolves to.
  int streams = 2;
  // How often the bridge resolves `target` again (a dispatcher added behind
  // the name takes traffic within this).
  absl::Duration resolve_interval = absl::Seconds(10);
  // The dispatcher asks a caller's connection to move (HTTP/2 GOAWAY) after
  // this, so that callers spread over dispatchers added since.
  absl::Duration max_connection_age = absl::Minutes(5);
  // Mutual TLS on the bridge–dispatcher hop (both sides read it): the
  // dispatcher serves cert_file/key_file and requires a client certificate
  // from ca_file; the bridge presents cert_file/key_file and verifies the
  // dispatcher against ca_file. All empty = plaintext.
  struct Tls {
    std::string cert_file, key_file, ca_file;
    bool enabled() const { return !cert_file.empty(); }
  } tls;
  // Event-loop threads of the HTTP client shared by UnifiedPush and Web Push
  // apps (APNs and FCM apps have one each, on their own connections).
  int http_threads = 2;
  int worker_threads = 0;  // provider work; 0: one per core
  // How long the outcome of each (event_id, app_id, pushkey) push is
  // remembered so that a homeserver's retry does not push twice, and how many
  // are kept at most (about 90 bytes each; 0 turns it off).
  absl::Duration dedup_ttl = absl::Minutes(10);
  int64_t dedup_max_entries = 200000;
  // host:port for GET /metrics (Prometheus) and /health; empty = off.
  std::string metrics_listen;
  // dispatcher.dedup: where that memory lives. "memory": this process's
  // (dedup_max_entries bounds it); "redis": shared by every dispatcher.
  struct Dedup {
    std::string backend = "memory";
    std::string redis_url;  // may hold a password: never log it whole
    absl::Duration redis_timeout = absl::Milliseconds(50);
  } dedup;
};

// Sygnal's metrics.prometheus: the bridge's own metrics listener. Off by
// default; with `port` equal to http.port, /metrics is served on the notify
// listener instead (only when asked for: that port is public).
struct PrometheusConfig {
  bool enabled = false;
  std::string address = "127.0.0.1";
  int port = 8000;
};

struct Config;
// metrics.prometheus names the notify listener's own (non-zero) port: the
// bridge serves /metrics there instead of on a listener of its own.
bool MetricsOnNotifyPort(const Config& config);

struct AppConfig {
  std::string pattern;  // app_id or glob
  std::string type;
  YAML::Node node;  // the app's whole mapping, read by the provider
};

struct Config {
  std::string file;
  std::string log_level = "info";
  std::string log_format = "text";  // log.format: text or json
  // log.access: the bridge's line per notify request (Sygnal's key, with
  // x_forwarded_for as Sygnal: the client address is the left-most entry of
  // X-Forwarded-For, for a bridge behind a reverse proxy).
  struct Access {
    bool enabled = true;
    bool x_forwarded_for = false;
  } log_access;
  HttpConfig http;
  DispatcherConfig dispatcher;
  PrometheusConfig prometheus;
  // HTTP CONNECT proxy for all provider traffic (Sygnal's `proxy`; else
  // HTTPS_PROXY / https_proxy from the environment); empty = none. May hold
  // user:pass@: never log it whole.
  std::string proxy;
  std::vector<AppConfig> apps;
  std::vector<std::string> warnings;
};

// YAML → compact JSON text (see ConfigMap::JsonObject).
std::string YamlToJson(const YAML::Node& node);

absl::StatusOr<std::shared_ptr<const Config>> LoadConfigFile(const std::string& file);
// The config file to read when none is given: $SYGNAL_CONF, else
// ./sygnal.yaml (as Sygnal).
std::string DefaultConfigFile();
// `proxy` with any user:pass@ replaced by "***@", for logs.
std::string RedactProxy(const std::string& proxy);
absl::StatusOr<std::shared_ptr<const Config>> ParseConfig(const std::string& yaml_text,
                                                          const std::string& file);

}  // namespace herald
