#include "tests/harness/harness.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

extern char** environ;

namespace herald::testing {
namespace {

[[noreturn]] void Fatal(const std::string& message) { throw std::runtime_error(message); }

std::atomic<int> g_counter{0};

}  // namespace

std::string Runfile(const std::string& path) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  std::string base = srcdir != nullptr ? std::string(srcdir) + "/herald/" : "";
  return base + path;
}

std::string TempDir() {
  const char* dir = std::getenv("TEST_TMPDIR");
  std::string out = dir != nullptr ? dir : "/tmp/herald-test";
  mkdir(out.c_str(), 0755);
  return out;
}

std::string TestDir(const std::string& prefix) {
  const std::string dir = absl::StrCat(
      TempDir(), "/", prefix, "-", ::testing::UnitTest::GetInstance()->current_test_info()->name());
  if (std::system(absl::StrCat("mkdir -p '", dir, "'").c_str()) != 0) Fatal("mkdir " + dir);
  return dir;
}

void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  if (!out) Fatal("cannot write " + path);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string RequestHeader(const rapidjson::Value& request, const std::string& name) {
  for (const auto& h : request["headers"].GetArray()) {
    if (name == h[0].GetString()) return h[1].GetString();
  }
  return "<absent>";
}

std::vector<std::string> RejectedPushkeys(const HttpResult& result) {
  rapidjson::Document doc = result.Json();
  if (!doc.IsObject() || !doc.HasMember("rejected") || !doc["rejected"].IsArray()) {
    return {"<no rejected list>"};
  }
  std::vector<std::string> out;
  for (const auto& v : doc["rejected"].GetArray())
    out.emplace_back(v.GetString(), v.GetStringLength());
  return out;
}

std::string JsonString(const std::string& s) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.String(s.data(), s.size());
  return buf.GetString();
}

std::string DeviceJson(const std::string& app_id, const std::string& pushkey,
                       const std::string& data_json) {
  return absl::StrCat(R"({"app_id":)", JsonString(app_id), R"(,"pushkey":)", JsonString(pushkey),
                      R"(,"pushkey_ts":1700000000)",
                      data_json.empty() ? "" : absl::StrCat(R"(,"data":)", data_json), "}");
}

std::string SpecNotifyBody(const std::vector<std::string>& devices, const std::string& prio,
                           const std::string& more_content, bool room_alias,
                           const std::string& event_id) {
  return absl::StrCat(
      R"({"notification":{"event_id":)", JsonString(event_id),
      R"(,"room_id":"!slw48wfj34rtnrf:example.com",)",
      R"("type":"m.room.message","sender":"@exampleuser:matrix.org",)",
      R"("sender_display_name":"Major Tom","room_name":"Mission Control",)",
      room_alias ? R"("room_alias":"#exampleroom:matrix.org",)" : "", R"("prio":)",
      JsonString(prio),
      R"(,"content":{"msgtype":"m.text","body":"I'm floating in a most peculiar way.")",
      more_content, R"(},"counts":{"unread":2,"missed_calls":1},"devices":[)",
      absl::StrJoin(devices, ","), "]}}");
}

// ---- Process ----

Process::~Process() {
  if (pid_ > 0) Stop(absl::Seconds(2));
}

void Process::Start(const std::vector<std::string>& argv, const std::string& log_file) {
  log_file_ = log_file;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log_file.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  int rc = posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) Fatal("cannot start " + argv[0]);
}

// Under --config=asan a service that hit a sanitizer report (or leaked at
// exit) says so in its log; that fails the test that ran it.
void CheckForSanitizerReport(const std::string& log_file) {
  const std::string log = ReadFile(log_file);
  for (const char* marker : {"ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                             "runtime error:", "WARNING: ThreadSanitizer"}) {
    const size_t at = log.find(marker);
    if (at != std::string::npos) {
      ADD_FAILURE() << log_file << " holds a sanitizer report:\n"
                    << log.substr(at > 2000 ? at - 2000 : 0, 8000);
      return;
    }
  }
}

bool Process::Running() {
  if (pid_ <= 0) return false;
  int status = 0;
  pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    pid_ = -1;
    CheckForSanitizerReport(log_file_);  // it may have died of one
    return false;
  }
  return true;
}

int Process::Wait(absl::Duration timeout) {
  absl::Time until = absl::Now() + timeout;
  int status = 0;
  while (pid_ > 0 && absl::Now() < until) {
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      CheckForSanitizerReport(log_file_);
      return status;
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  return -1;
}

int Process::Stop(absl::Duration grace) {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  int status = Wait(grace);
  if (pid_ > 0) {  // still running after the grace period
    kill(pid_, SIGKILL);
    waitpid(pid_, &status, 0);
    pid_ = -1;
    CheckForSanitizerReport(log_file_);
    return -1;
  }
  CheckForSanitizerReport(log_file_);
  return status;
}

// ---- HTTP ----

rapidjson::Document HttpResult::Json() const {
  rapidjson::Document doc;
  doc.Parse(body.c_str());
  return doc;
}

namespace {

size_t CollectBody(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

size_t CollectHeader(char* data, size_t size, size_t n, void* user) {
  auto* headers = static_cast<std::map<std::string, std::string>*>(user);
  absl::string_view line(data, size * n);
  size_t colon = line.find(':');
  if (colon != absl::string_view::npos) {
    (*headers)[absl::AsciiStrToLower(line.substr(0, colon))] =
        std::string(absl::StripAsciiWhitespace(line.substr(colon + 1)));
  }
  return size * n;
}

}  // namespace

HttpResult HttpCall(const std::string& method, const std::string& url, const std::string& body,
                    const std::vector<std::string>& headers, absl::Duration timeout,
                    const std::string& ca_file) {
  HttpResult result;
  CURL* curl = curl_easy_init();
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  if (!ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, ca_file.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(absl::ToInt64Milliseconds(timeout)));
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  if (method != "GET" || !body.empty()) {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  }
  curl_slist* list = curl_slist_append(nullptr, "Expect:");
  for (const std::string& h : headers) list = curl_slist_append(list, h.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, CollectBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &result.body);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, CollectHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &result.headers);
  CURLcode rc = curl_easy_perform(curl);
  if (rc == CURLE_OK) {
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &result.status);
  } else {
    result.error = curl_easy_strerror(rc);
  }
  curl_slist_free_all(list);
  curl_easy_cleanup(curl);
  return result;
}

// ---- PKI ----

TestPki MakeTestPki(const std::string& dir) {
  TestPki pki;
  pki.ca_cert = dir + "/ca.pem";
  pki.server_cert = dir + "/server.pem";
  pki.server_key = dir + "/server.key";
  pki.client_cert_and_key = dir + "/client.pem";
  if (access(pki.client_cert_and_key.c_str(), R_OK) == 0) return pki;
  WriteFile(dir + "/san.cnf", "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  std::string q = " >/dev/null 2>&1";
  std::string cmd = absl::StrCat(
      "set -e; cd '", dir, "'; ",
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 "
      "-subj '/CN=Herald Test CA' -keyout ca.key -out ca.pem",
      q, "; ",
      "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
      "-subj '/CN=localhost' -keyout server.key -out server.csr",
      q, "; ",
      "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 "
      "-extfile san.cnf -out server.pem",
      q, "; ",
      "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
      "-subj '/CN=herald-client' -keyout client.key -out client.csr",
      q, "; ",
      "openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 "
      "-out client.crt",
      q, "; ", "cat client.crt client.key > client.pem");
  if (std::system(cmd.c_str()) != 0) Fatal("openssl failed to make the test PKI");
  return pki;
}

void MakeP256Key(const std::string& path) {
  std::string cmd = absl::StrCat(
      "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out '", path, "'");
  if (std::system(cmd.c_str()) != 0) Fatal("openssl failed to make a P-256 key");
}

int StartService(Process* p, const std::string& name, const std::string& config,
                 const std::string& dir, const std::string& tag) {
  const std::string binary =
      name == "bridge" ? "bridge/herald-bridge" : "dispatcher/herald-dispatcher";
  const std::string base = dir + "/" + (tag.empty() ? name : tag);
  p->Start({Runfile(binary), "--config", config, "--ready-file", base + ".ready"}, base + ".log");
  return WaitForReadyFile(base + ".ready", *p, name)["port"].GetInt();
}

bool Eventually(const std::function<bool()>& ok, absl::Duration limit) {
  const absl::Time until = absl::Now() + limit;
  while (absl::Now() < until) {
    if (ok()) return true;
    absl::SleepFor(absl::Milliseconds(100));
  }
  return ok();
}

// ---- FakeProvider ----

rapidjson::Document WaitForReadyFile(const std::string& file, Process& process,
                                     const std::string& what) {
  absl::Time until = absl::Now() + absl::Seconds(15);
  while (absl::Now() < until) {
    if (access(file.c_str(), R_OK) == 0) {
      rapidjson::Document doc;
      doc.Parse(ReadFile(file).c_str());
      if (doc.IsObject() && doc.HasMember("port") && doc["port"].IsInt()) return doc;
    }
    if (!process.Running()) break;
    absl::SleepFor(absl::Milliseconds(10));
  }
  Fatal(absl::StrCat(what, " did not start: ", process.Log()));
}

FakeProvider::FakeProvider(Options options) : options_(std::move(options)) {
  int n = g_counter.fetch_add(1);
  std::string ready = absl::StrCat(TempDir(), "/fake-", getpid(), "-", n, ".ready");
  unlink(ready.c_str());
  std::vector<std::string> argv = {
      "/usr/bin/python3", Runfile("tools/fake_provider/fake_provider.py"),
      "--listen",         "127.0.0.1:0",
      "--control",        "127.0.0.1:0",
      "--ready-file",     ready};
  if (!options_.tls_cert.empty()) {
    argv.insert(argv.end(), {"--tls-cert", options_.tls_cert, "--tls-key", options_.tls_key});
  }
  if (!options_.client_ca.empty()) argv.insert(argv.end(), {"--client-ca", options_.client_ca});
  process_.Start(argv, absl::StrCat(TempDir(), "/fake-", n, ".log"));
  rapidjson::Document doc = WaitForReadyFile(ready, process_, "fake provider");
  port_ = doc["port"].GetInt();
  control_port_ = doc["control_port"].GetInt();
}

FakeProvider::~FakeProvider() { process_.Stop(absl::Seconds(2)); }

std::string FakeProvider::base_url() const {
  return absl::StrCat(options_.tls_cert.empty() ? "http" : "https", "://127.0.0.1:", port_);
}

std::string FakeProvider::ControlUrl(const std::string& path) const {
  return absl::StrCat("http://127.0.0.1:", control_port_, path);
}

void FakeProvider::SetRules(const std::string& rules_json) {
  HttpResult r =
      HttpCall("POST", ControlUrl("/rules"), absl::StrCat("{\"rules\":", rules_json, "}"),
               {"Content-Type: application/json"});
  if (r.status != 200) Fatal("fake provider refused rules: " + r.body + r.error);
}

rapidjson::Document FakeProvider::Requests(int wait_for, absl::Duration timeout) {
  HttpResult r =
      HttpCall("GET", ControlUrl(absl::StrCat("/requests?wait_for=", wait_for,
                                              "&timeout_ms=", absl::ToInt64Milliseconds(timeout))));
  if (r.status != 200) Fatal("fake provider /requests failed: " + r.error);
  rapidjson::Document doc = r.Json();
  rapidjson::Document list;
  list.CopyFrom(doc["requests"], list.GetAllocator());
  return list;
}

rapidjson::Document FakeProvider::Stats() {
  HttpResult r = HttpCall("GET", ControlUrl("/stats"));
  if (r.status != 200) Fatal("fake provider /stats failed: " + r.error);
  return r.Json();
}

void FakeProvider::Reset() { HttpCall("POST", ControlUrl("/reset"), "{}"); }

int ConnectTo(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

bool SendAll(int fd, const std::string& bytes) {
  for (size_t sent = 0; sent < bytes.size();) {
    const ssize_t n = send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return false;
    sent += static_cast<size_t>(n);
  }
  return true;
}

std::string RawExchange(int port, const std::string& bytes) {
  const int fd = ConnectTo(port);
  if (fd < 0) return "<cannot connect>";
  timeval ten{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &ten, sizeof(ten));
  SendAll(fd, bytes);
  shutdown(fd, SHUT_WR);
  std::string got;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) got.append(buf, n);
  close(fd);
  return got;
}

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) Fatal("cannot bind a port");
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

RedisServer::RedisServer() {
  static std::atomic<int> instances{0};
  dir_ = absl::StrCat(TempDir(), "/redis-", getpid(), "-", instances.fetch_add(1));
  if (std::system(absl::StrCat("mkdir -p '", dir_, "'").c_str()) != 0) Fatal("mkdir " + dir_);
  port_ = FreePort();
  Start();
}

RedisServer::~RedisServer() { process_.Stop(absl::Seconds(2)); }

std::string RedisServer::url() const { return absl::StrCat("redis://127.0.0.1:", port_, "/0"); }

void RedisServer::Start() {
  process_.Start({"/usr/bin/redis-server", "--port", absl::StrCat(port_), "--bind", "127.0.0.1",
                  "--save", "", "--appendonly", "no", "--dir", dir_},
                 dir_ + "/redis.log");
  for (int i = 0; i < 250; ++i) {  // ready once it accepts connections
    int fd = ConnectTo(port_);
    if (fd >= 0) {
      close(fd);
      return;
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  Fatal("redis-server did not start: " + ReadFile(dir_ + "/redis.log"));
}

void RedisServer::Stop() { process_.Stop(absl::Seconds(5)); }

Tinyproxy::Tinyproxy() {
  static std::atomic<int> instances{0};
  const std::string base =
      absl::StrCat(TempDir(), "/tinyproxy-", getpid(), "-", instances.fetch_add(1));
  log_ = base + ".log";
  port_ = FreePort();
  const std::string conf = base + ".conf";
  WriteFile(conf,
            absl::StrCat("Port ", port_, "\nListen 127.0.0.1\nTimeout 30\nLogFile \"", log_,
                         "\"\nLogLevel Connect\nMaxClients 200\n", "BasicAuth herald s3cret\n"));
  process_.Start({"/usr/bin/tinyproxy", "-d", "-c", conf}, log_ + ".out");
  // Ready once it accepts connections.
  for (int i = 0; i < 250; ++i) {
    if (HttpCall("GET", absl::StrCat("http://127.0.0.1:", port_, "/"), "", {}, absl::Seconds(1))
            .status != 0) {
      return;
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  Fatal("tinyproxy did not start: " + ReadFile(log_ + ".out"));
}

Tinyproxy::~Tinyproxy() { process_.Stop(absl::Seconds(2)); }

std::string Tinyproxy::url() const {
  return absl::StrCat("http://herald:s3cret@127.0.0.1:", port_);
}

int Tinyproxy::Connects(const std::string& target) const {
  const std::string log = ReadFile(log_);
  const std::string line = absl::StrCat("CONNECT ", target, " HTTP/1.1");
  int n = 0;
  for (size_t at = log.find(line); at != std::string::npos; at = log.find(line, at + 1)) ++n;
  return n;
}

// ---- Herald ----

// Both services listen on port 0 and report the port the kernel gave them
// (--ready-file): no race with other tests for a "free" port.
Herald::Herald(const std::string& apps_yaml, const std::string& dispatcher_yaml,
               const std::string& http_yaml) {
  int n = g_counter.fetch_add(1);
  std::string base = absl::StrCat(TempDir(), "/herald-", getpid(), "-", n);
  config_file_ = base + ".yaml";
  auto write_config = [&](const std::string& target) {
    WriteFile(config_file_,
              absl::StrCat("log:\n  level: debug\n",
                           "http:\n  bind_addresses: ['127.0.0.1']\n  port: 0\n", http_yaml,
                           "dispatcher:\n  listen: 127.0.0.1:0\n  target: ", target, "\n",
                           // Production defaults (the push memory on); a test
                           // that needs otherwise says so in dispatcher_yaml.
                           dispatcher_yaml, "apps:\n", apps_yaml));
  };
  write_config("dns:///127.0.0.1:1");  // the dispatcher does not read it
  dispatcher_.Start({Runfile("dispatcher/herald-dispatcher"), "--config", config_file_,
                     "--ready-file", base + ".dispatcher.ready"},
                    base + ".dispatcher.log");
  rapidjson::Document ready =
      WaitForReadyFile(base + ".dispatcher.ready", dispatcher_, "dispatcher");
  grpc_port_ = ready["port"].GetInt();
  if (ready.HasMember("metrics_port")) dispatcher_metrics_port_ = ready["metrics_port"].GetInt();
  write_config(absl::StrCat("dns:///127.0.0.1:", grpc_port_));
  bridge_.Start({Runfile("bridge/herald-bridge"), "--config", config_file_, "--ready-file",
                 base + ".bridge.ready"},
                base + ".bridge.log");
  rapidjson::Document bridge_ready = WaitForReadyFile(base + ".bridge.ready", bridge_, "bridge");
  http_port_ = bridge_ready["port"].GetInt();
  if (bridge_ready.HasMember("metrics_port")) {
    bridge_metrics_port_ = bridge_ready["metrics_port"].GetInt();
  }
}

std::string Herald::DispatcherMetrics() const {
  if (dispatcher_metrics_port_ == 0) Fatal("the dispatcher has no metrics_listen");
  return HttpCall("GET", absl::StrCat("http://127.0.0.1:", dispatcher_metrics_port_, "/metrics"))
      .body;
}

double MetricValue(const std::string& text, const std::string& series) {
  const std::string key = series + " ";
  size_t at = 0;
  while ((at = text.find(key, at)) != std::string::npos) {
    if (at == 0 || text[at - 1] == '\n') return std::stod(text.substr(at + key.size()));
    at += key.size();
  }
  return -1;
}

Herald::~Herald() {
  bridge_.Stop();
  dispatcher_.Stop();
}

std::string Herald::url(const std::string& path) const {
  return absl::StrCat("http://127.0.0.1:", http_port_, path);
}

std::string Herald::notify_url() const { return url("/_matrix/push/v1/notify"); }

HttpResult Herald::Notify(const std::string& body) {
  return HttpCall("POST", notify_url(), body, {"Content-Type: application/json"});
}

void Herald::StopDispatcher() { dispatcher_.Stop(); }

}  // namespace herald::testing
