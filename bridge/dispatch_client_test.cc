// DispatchClient against in-process dispatchers that answer every
// notification at once, with a scripted resolver in place of DNS: addresses
// that appear get streams and traffic, addresses that go get no more, and
// every notification is answered.
#include "bridge/dispatch_client.h"

#include <atomic>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"

namespace herald::bridge {
namespace {

// A dispatcher that answers each notification OK and counts them.
class CountingDispatcher final : public herald::v1::Dispatcher::CallbackService {
 public:
  CountingDispatcher() {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(this);
    server_ = builder.BuildAndStart();
  }
  ~CountingDispatcher() override { server_->Shutdown(std::chrono::system_clock::now()); }

  std::string address() const { return absl::StrCat("ipv4:127.0.0.1:", port_); }
  int taken() const { return taken_.load(); }

  grpc::ServerBidiReactor<herald::v1::DispatchBatch, herald::v1::DispatchResults>* DispatchStream(
      grpc::CallbackServerContext*) override {
    class Reactor
        : public grpc::ServerBidiReactor<herald::v1::DispatchBatch, herald::v1::DispatchResults> {
     public:
      Reactor(std::atomic<int>* taken, std::atomic<int>* open) : taken_(taken), open_(open) {
        open_->fetch_add(1);
        StartRead(&in_);
      }
      void OnReadDone(bool ok) override {
        if (!ok) return Finish(grpc::Status::OK);
        out_.Clear();
        for (const herald::v1::DispatchRequest& r : in_.requests()) {
          out_.add_results()->set_request_id(r.request_id());
          taken_->fetch_add(1);
        }
        StartWrite(&out_);
      }
      void OnWriteDone(bool ok) override {
        if (!ok) return Finish(grpc::Status::CANCELLED);
        StartRead(&in_);
      }
      void OnDone() override {
        open_->fetch_sub(1);
        delete this;
      }

     private:
      std::atomic<int>* taken_;
      std::atomic<int>* open_;
      herald::v1::DispatchBatch in_;
      herald::v1::DispatchResults out_;
    };
    return new Reactor(&taken_, &open_);
  }

 private:
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
  std::atomic<int> taken_{0};
  std::atomic<int> open_{0};

 public:
  int open_streams() const { return open_.load(); }
};

// What the scripted resolver answers now, and how often it was asked.
class Names {
 public:
  void Set(std::vector<std::string> addresses) {
    absl::MutexLock lock(&mu_);
    addresses_ = std::move(addresses);
    std::sort(addresses_.begin(), addresses_.end());
    failing_ = false;
  }
  void Fail() {
    absl::MutexLock lock(&mu_);
    failing_ = true;
  }
  absl::StatusOr<std::vector<std::string>> Resolve() {
    absl::MutexLock lock(&mu_);
    ++asked_;
    if (failing_) return absl::UnavailableError("dispatchers.test: no such name (scripted)");
    return addresses_;
  }
  int asked() {
    absl::MutexLock lock(&mu_);
    return asked_;
  }

 private:
  absl::Mutex mu_;
  std::vector<std::string> addresses_ ABSL_GUARDED_BY(mu_);
  bool failing_ ABSL_GUARDED_BY(mu_) = false;
  int asked_ ABSL_GUARDED_BY(mu_) = 0;
};

// Sends `n` notifications one after another; how many were answered OK.
int SendAll(DispatchClient* client, int n) {
  int ok = 0;
  for (int i = 0; i < n; ++i) {
    herald::v1::DispatchRequest request;
    static std::atomic<int> next{0};
    request.set_request_id(absl::StrCat("r", next.fetch_add(1)));
    absl::Notification done;
    bool good = false;
    client->Dispatch(std::move(request),
                     [&](const grpc::Status& status, herald::v1::DispatchResponse*) {
                       good = status.ok();
                       done.Notify();
                     });
    done.WaitForNotification();
    ok += good ? 1 : 0;
  }
  return ok;
}

bool Eventually(const std::function<bool()>& ok) {
  const absl::Time until = absl::Now() + absl::Seconds(10);
  while (absl::Now() < until) {
    if (ok()) return true;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return ok();
}

TEST(DispatchClientTest, FollowsTheNamesAddressesAsTheyComeAndGo) {
  // As bridge/main.cc: channels connect without waiting for gRPC's 5 s poll.
  setenv("GRPC_CLIENT_CHANNEL_BACKUP_POLL_INTERVAL_MS", "100", 1);
  CountingDispatcher a, b;
  auto names = std::make_shared<Names>();
  names->Set({a.address()});
  DispatchClient::Options options;
  options.target = *ParseDispatcherTarget("dns:///dispatchers.test:50051");
  options.resolve_interval = absl::Milliseconds(200);
  options.tick = absl::Milliseconds(50);
  options.resolve = [names](const DispatcherTarget&) { return names->Resolve(); };
  DispatchClient client(options, [](const std::string& address) {
    return grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  });
  EXPECT_EQ(client.Addresses(), std::vector<std::string>{a.address()});

  ASSERT_TRUE(Eventually([&] { return client.Ready(); }));
  EXPECT_EQ(SendAll(&client, 20), 20);
  EXPECT_EQ(a.taken(), 20);
  EXPECT_EQ(b.taken(), 0);

  // B appears behind the name: once resolved and connected, the two share.
  names->Set({a.address(), b.address()});
  ASSERT_TRUE(Eventually([&] { return client.Addresses().size() == 2; }));
  ASSERT_TRUE(Eventually([&] {
    SendAll(&client, 2);
    return b.taken() > 0;
  }));
  const int a0 = a.taken(), b0 = b.taken();
  EXPECT_EQ(SendAll(&client, 40), 40);
  EXPECT_EQ(a.taken() - a0, 20);
  EXPECT_EQ(b.taken() - b0, 20);

  // A leaves the name: it takes nothing more, and nothing fails.
  names->Set({b.address()});
  ASSERT_TRUE(Eventually([&] { return client.Addresses().size() == 1; }));
  const int a1 = a.taken(), b1 = b.taken();
  EXPECT_EQ(SendAll(&client, 30), 30);
  EXPECT_EQ(a.taken(), a1);
  EXPECT_EQ(b.taken() - b1, 30);

  // The name stops resolving: the known address keeps serving.
  names->Fail();
  const int asked = names->asked();
  ASSERT_TRUE(Eventually([&] { return names->asked() >= asked + 2; }));
  EXPECT_EQ(client.Addresses(), std::vector<std::string>{b.address()});
  const int b2 = b.taken();
  EXPECT_EQ(SendAll(&client, 5), 5);
  EXPECT_EQ(b.taken() - b2, 5);
}

TEST(DispatchClientTest, StreamsOlderThanTheirAgeAreReplacedWithoutLosingAnAnswer) {
  setenv("GRPC_CLIENT_CHANNEL_BACKUP_POLL_INTERVAL_MS", "100", 1);
  CountingDispatcher a;
  DispatchClient::Options options;
  options.target = *ParseDispatcherTarget(a.address().c_str());
  options.streams_per_dispatcher = 1;
  options.stream_max_age = absl::Milliseconds(1);  // every pick opens a new one
  DispatchClient client(options, [](const std::string& address) {
    return grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  });
  // Four senders at once, so that retired streams still carry answers when
  // they are replaced.
  std::vector<std::thread> senders;
  std::atomic<int> ok{0};
  for (int t = 0; t < 4; ++t) {
    senders.emplace_back([&] { ok += SendAll(&client, 50); });
  }
  for (std::thread& t : senders) t.join();
  EXPECT_EQ(ok.load(), 200);
  EXPECT_EQ(a.taken(), 200);
  // The retired streams ended by themselves (half-closed, then finished by
  // the dispatcher): at most the one in the slot is still open.
  EXPECT_TRUE(Eventually([&] { return a.open_streams() <= 1; })) << a.open_streams();
}

}  // namespace
}  // namespace herald::bridge
