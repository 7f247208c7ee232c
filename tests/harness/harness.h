// Test harness for integration tests: starts the real herald-bridge and
// herald-dispatcher binaries and the fake provider on loopback, and talks to
// them over HTTP.
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "rapidjson/document.h"

namespace herald::testing {

// Path of a file in this test's runfiles, e.g. "bridge/herald-bridge".
std::string Runfile(const std::string& path);
// A directory private to this test (TEST_TMPDIR), created if needed.
std::string TempDir();
// A directory under TempDir() of the running test's own ("PREFIX-TestName"),
// created: a fixture's services keep their logs and ready files apart there.
std::string TestDir(const std::string& prefix);
void WriteFile(const std::string& path, const std::string& content);
std::string ReadFile(const std::string& path);

// A child process with its stdout+stderr going to a log file.
class Process {
 public:
  Process() = default;
  ~Process();
  void Start(const std::vector<std::string>& argv, const std::string& log_file);
  // SIGTERM, then SIGKILL after `grace`. Returns the exit status (or -1).
  int Stop(absl::Duration grace = absl::Seconds(5));
  bool Running();
  // Waits for the process to exit by itself; its wait status, or -1 on timeout.
  int Wait(absl::Duration timeout);
  pid_t pid() const { return pid_; }
  const std::string& log_file() const { return log_file_; }
  std::string Log() const { return ReadFile(log_file_); }

 private:
  pid_t pid_ = -1;
  std::string log_file_;
};

// Waits for a process's --ready-file and returns what it says (it has an
// integer "port"); fails the test if the process exits or 15 s pass first.
rapidjson::Document WaitForReadyFile(const std::string& file, Process& process,
                                     const std::string& what);

// Starts `name` ("bridge" or "dispatcher") on `config`, its log and ready
// file in `dir` as TAG.log and TAG.ready (TAG: `tag`, else `name`); returns
// the port it listens on once it does.
int StartService(Process* p, const std::string& name, const std::string& config,
                 const std::string& dir, const std::string& tag = "");

// Polls `ok` every 100 ms until it is true or `limit` passes; its last answer.
bool Eventually(const std::function<bool()>& ok, absl::Duration limit = absl::Seconds(15));

struct HttpResult {
  long status = 0;  // 0: no answer (transport failure)
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string error;
  rapidjson::Document Json() const;
};

// Blocking HTTP client for tests (libcurl easy). `ca_file`: the CA to trust
// for https:// (else the system's).
HttpResult HttpCall(const std::string& method, const std::string& url, const std::string& body = "",
                    const std::vector<std::string>& headers = {},
                    absl::Duration timeout = absl::Seconds(30), const std::string& ca_file = "");

// A throwaway CA and a server certificate for 127.0.0.1/localhost, and a
// client certificate signed by the same CA. Made with the openssl CLI.
struct TestPki {
  std::string ca_cert;
  std::string server_cert;
  std::string server_key;
  std::string client_cert_and_key;  // one PEM file
};
TestPki MakeTestPki(const std::string& dir);

// Writes a new EC P-256 private key (PEM) to `path`: an APNs .p8 key or a
// VAPID key. Fails the test when openssl does.
void MakeP256Key(const std::string& path);

// tools/fake_provider/fake_provider.py, started on loopback.
class FakeProvider {
 public:
  struct Options {
    std::string tls_cert;  // empty: plain HTTP (HTTP/1.1 and h2c)
    std::string tls_key;
    std::string client_ca;
  };
  explicit FakeProvider(Options options);
  FakeProvider() : FakeProvider(Options{}) {}
  ~FakeProvider();

  int port() const { return port_; }
  // http(s)://127.0.0.1:PORT
  std::string base_url() const;
  // Replaces the rules (JSON array text).
  void SetRules(const std::string& rules_json);
  // Recorded requests; waits until at least `wait_for` are recorded.
  rapidjson::Document Requests(int wait_for = 0, absl::Duration timeout = absl::Seconds(5));
  rapidjson::Document Stats();
  void Reset();

 private:
  std::string ControlUrl(const std::string& path) const;
  Options options_;
  Process process_;
  int port_ = 0;
  int control_port_ = 0;
};

// A TCP connection to loopback `port`; -1 when refused.
int ConnectTo(int port);
// Writes all of `bytes` on `fd`; false when the peer stopped it first
// (MSG_NOSIGNAL: a server may close before all is written).
bool SendAll(int fd, const std::string& bytes);
// Writes `bytes` on a new connection to `port`, half-closes it, and returns
// all the server wrote back before it closed (reads give up after 10 s
// without data, so a server that never closes fails the test, not the run).
std::string RawExchange(int port, const std::string& bytes);

// A loopback TCP port free at the time of the call (for servers that cannot
// take port 0 and report theirs).
int FreePort();

// tinyproxy (tools/setup installs it) in the foreground on a free loopback
// port, with basic auth (user herald, password s3cret), logging every
// CONNECT it is asked for.
class Tinyproxy {
 public:
  Tinyproxy();
  ~Tinyproxy();
  // http://herald:s3cret@127.0.0.1:PORT
  std::string url() const;
  // How many times it was asked to CONNECT to `target` ("host:port").
  int Connects(const std::string& target) const;

 private:
  int port_ = 0;
  std::string log_;
  Process process_;
};

// redis-server (tools/setup installs it) on a free loopback port, with
// nothing saved to disk; it can be stopped and started again on that port.
class RedisServer {
 public:
  RedisServer();
  ~RedisServer();
  int port() const { return port_; }
  std::string url() const;  // redis://127.0.0.1:PORT/0
  void Stop();
  void Start();

 private:
  int port_ = 0;
  std::string dir_;
  Process process_;
};

// The two Herald services with a config made from `apps_yaml` (the mapping
// under `apps:`, indented by two spaces) and `extra_yaml` (more top-level
// sections, e.g. "http:\n  max_body_bytes: 4096\n").
class Herald {
 public:
  Herald(const std::string& apps_yaml, const std::string& dispatcher_yaml = "",
         const std::string& http_yaml = "");
  ~Herald();

  std::string notify_url() const;
  std::string url(const std::string& path) const;
  HttpResult Notify(const std::string& body);
  void StopDispatcher();
  Process& bridge() { return bridge_; }
  Process& dispatcher() { return dispatcher_; }
  const std::string& config_file() const { return config_file_; }
  int dispatcher_port() const { return grpc_port_; }
  // With dispatcher.metrics_listen set; 0 otherwise.
  int dispatcher_metrics_port() const { return dispatcher_metrics_port_; }
  // GET /metrics of the dispatcher (needs metrics_listen) and of the
  // bridge's metrics.prometheus listener (0 when it has none).
  std::string DispatcherMetrics() const;
  int bridge_metrics_port() const { return bridge_metrics_port_; }

 private:
  std::string config_file_;
  int http_port_ = 0;
  int grpc_port_ = 0;
  int dispatcher_metrics_port_ = 0;
  int bridge_metrics_port_ = 0;
  Process dispatcher_;
  Process bridge_;
};

// The value of a header the fake provider recorded (names are lower case),
// or "<absent>".
std::string RequestHeader(const rapidjson::Value& request, const std::string& name);

// The `rejected` list of a notify answer, or {"<no rejected list>"}.
std::vector<std::string> RejectedPushkeys(const HttpResult& result);

// The value of one series in Prometheus text (`name{labels}` exactly as
// rendered, or a bare name), or -1 when it is not there.
double MetricValue(const std::string& text, const std::string& series);

// Shorthand: a JSON string literal for `s`.
std::string JsonString(const std::string& s);

// One entry of a notify request's "devices": pushkey_ts 1700000000, and
// "data" only when `data_json` is not empty.
std::string DeviceJson(const std::string& app_id, const std::string& pushkey,
                       const std::string& data_json = "");

// A notify body: the push gateway spec's example notification ("Major Tom",
// "I'm floating in a most peculiar way.") for these devices, with this
// priority, extra members appended to its content (`,"format":...`), and the
// spec's room alias when `room_alias` is set.
std::string SpecNotifyBody(const std::vector<std::string>& devices,
                           const std::string& prio = "high", const std::string& more_content = "",
                           bool room_alias = false,
                           const std::string& event_id = "$3957tyerfgewrf384");

}  // namespace herald::testing
