#include "dispatcher/dispatcher_service.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/executor.h"
#include "rapidjson/encodedstream.h"
#include "rapidjson/memorystream.h"
#include "rapidjson/reader.h"

namespace herald::dispatcher {
namespace {

// Homeservers send one device per notification (Synapse) or a handful; the
// cap keeps one request from holding a thread with thousands.
constexpr int kMaxDevices = 1000;
// Time kept back from the caller's deadline to send the answer.
constexpr absl::Duration kAnswerMargin = absl::Milliseconds(200);

// Accepts the SAX events of a JSON text whose top level is an object; stops
// at the first event otherwise. Checks without building a tree.
// Nesting is bounded as the bridge bounds it: providers parse and copy these
// texts recursively, and gRPC callers skip the bridge.
struct TopLevelObject : rapidjson::BaseReaderHandler<rapidjson::UTF8<>, TopLevelObject> {
  static constexpr int kMaxDepth = 256;
  bool started = false;
  int depth = 0;
  bool Default() { return started; }
  bool StartObject() {
    started = true;
    return ++depth <= kMaxDepth;
  }
  bool StartArray() { return started && ++depth <= kMaxDepth; }
  bool EndObject(rapidjson::SizeType) {
    --depth;
    return true;
  }
  bool EndArray(rapidjson::SizeType) {
    --depth;
    return true;
  }
};

// The gRPC caller's deadline, a time of day, as a reading of `clock`'s
// monotonic time; infinite when it set none.
absl::Time CallerDeadline(const grpc::CallbackServerContext& context, const Clock& clock) {
  if (context.deadline() == std::chrono::system_clock::time_point::max()) {
    return absl::InfiniteFuture();
  }
  return clock.Monotonic() + (absl::FromChrono(context.deadline()) - clock.Now());
}

bool IsJsonObjectOrEmpty(const std::string& text) {
  if (text.empty()) return true;
  rapidjson::MemoryStream memory(text.data(), text.size());
  rapidjson::EncodedInputStream<rapidjson::UTF8<>, rapidjson::MemoryStream> in(memory);
  TopLevelObject handler;
  rapidjson::Reader reader;
  return !reader
              .Parse<rapidjson::kParseValidateEncodingFlag | rapidjson::kParseIterativeFlag>(
                  in, handler)
              .IsError();
}

}  // namespace

// The bridge only sends valid requests; other gRPC callers may not. Providers
// embed the JSON fields verbatim, so they must be JSON objects.
absl::Status ValidateRequest(const herald::v1::DispatchRequest& request) {
  const herald::v1::Notification& n = request.notification();
  if (n.devices_size() == 0)
    return absl::InvalidArgumentError("notification.devices must not be empty");
  if (n.devices_size() > kMaxDevices) {
    return absl::InvalidArgumentError(
        absl::StrCat("notification.devices: at most ", kMaxDevices, " devices per notification"));
  }
  if (!IsJsonObjectOrEmpty(n.content_json())) {
    return absl::InvalidArgumentError(
        "notification.content_json must be a JSON object (nested at most 256 deep)");
  }
  for (int i = 0; i < n.devices_size(); ++i) {
    const herald::v1::Device& d = n.devices(i);
    const char* wrong = d.app_id().empty()    ? ".app_id must not be empty"
                        : d.pushkey().empty() ? ".pushkey must not be empty"
                        : !IsJsonObjectOrEmpty(d.data_json())
                            ? ".data_json must be a JSON object (nested at most 256 deep)"
                        : !IsJsonObjectOrEmpty(d.tweaks_json())
                            ? ".tweaks_json must be a JSON object (nested at most 256 deep)"
                            : nullptr;
    if (wrong != nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("notification.devices[", i, "]", wrong));
    }
  }
  return absl::OkStatus();
}

DispatcherService::DispatcherService(std::shared_ptr<const AppRegistry> apps, FanOutEnv env)
    : apps_(std::move(apps)), env_(env) {}

absl::Time DispatcherService::DeadlineFor(const herald::v1::DispatchRequest& request,
                                          absl::Time caller_deadline) const {
  const absl::Time now = env_.clock->Monotonic();
  absl::Time theirs = caller_deadline;
  if (request.timeout_ms() > 0) {
    theirs = std::min(theirs, now + absl::Milliseconds(request.timeout_ms()));
  }
  absl::Time deadline = now + env_.policy.deadline;
  if (theirs != absl::InfiniteFuture()) {
    // Finish a little before the caller gives up, so that it gets our
    // per-device answer rather than a bare DEADLINE_EXCEEDED.
    absl::Duration margin = std::min(kAnswerMargin, (theirs - now) / 10);
    deadline = std::min(deadline, theirs - margin);
  }
  return deadline;
}

void DispatcherService::Start(const herald::v1::DispatchRequest* request,
                              herald::v1::DispatchResponse* response, absl::Time deadline,
                              std::function<void()> on_done) {
  std::shared_ptr<const AppRegistry> apps = Apps();
  StartFanOut(std::move(apps), env_, request, response, deadline, std::move(on_done));
}

grpc::ServerUnaryReactor* DispatcherService::Dispatch(grpc::CallbackServerContext* context,
                                                      const herald::v1::DispatchRequest* request,
                                                      herald::v1::DispatchResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (absl::Status problem = ValidateRequest(*request); !problem.ok()) {
    reactor->Finish(
        grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, std::string(problem.message())));
    return reactor;
  }
  const absl::Time deadline = DeadlineFor(*request, CallerDeadline(*context, *env_.clock));
  // A caller's x-request-id metadata names the request in the logs, unless
  // the request has a trace_id of its own (then a copy carries it).
  auto given = context->client_metadata().find("x-request-id");
  if (request->trace_id().empty() && given != context->client_metadata().end()) {
    auto named = std::make_shared<herald::v1::DispatchRequest>(*request);
    named->set_trace_id(std::string(given->second.data(), given->second.size()));
    Start(named.get(), response, deadline, [reactor, named] { reactor->Finish(grpc::Status::OK); });
    return reactor;
  }
  Start(request, response, deadline, [reactor] { reactor->Finish(grpc::Status::OK); });
  return reactor;
}

namespace {

// One DispatchStream: reads batches, starts every notification at once, and
// writes answers as they finish. One write is in flight at a time; answers
// that finish meanwhile wait in `ready_` and leave together in the next one.
class StreamReactor
    : public grpc::ServerBidiReactor<herald::v1::DispatchBatch, herald::v1::DispatchResults>,
      public DrainableStream {
 public:
  StreamReactor(DispatcherService* service, grpc::CallbackServerContext* context,
                absl::Time stream_deadline)
      : service_(service), context_(context), stream_deadline_(stream_deadline) {
    service_->Register(this);
    StartRead(&batch_);
  }

  void Drain() override {
    Next next;
    {
      absl::MutexLock lock(&mu_);
      next = DecideLocked();  // the service is draining now
    }
    Act(next);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      Next next;
      {
        absl::MutexLock lock(&mu_);
        reads_done_ = true;
        next = DecideLocked();
      }
      Act(next);
      return;
    }
    for (herald::v1::DispatchRequest& request : *batch_.mutable_requests()) {
      auto item = std::make_shared<Item>();
      item->request = std::move(request);
      {
        absl::MutexLock lock(&mu_);
        ++pending_;
      }
      if (service_->draining()) {
        Complete(item, grpc::StatusCode::UNAVAILABLE, herald::v1::kDispatcherDrainingMessage,
                 /*not_started=*/true);
        continue;
      }
      if (absl::Status problem = ValidateRequest(item->request); !problem.ok()) {
        Complete(item, grpc::StatusCode::INVALID_ARGUMENT, std::string(problem.message()));
        continue;
      }
      service_->Start(&item->request, &item->response,
                      service_->DeadlineFor(item->request, stream_deadline_),
                      [this, item] { Complete(item, grpc::StatusCode::OK, ""); });
    }
    batch_.Clear();
    bool finished;
    {
      absl::MutexLock lock(&mu_);
      finished = finished_;
    }
    if (!finished) StartRead(&batch_);
  }

  void OnWriteDone(bool ok) override {
    Next next;
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      if (!ok) broken_ = true;  // the caller went away; answers have nowhere to go
      next = DecideLocked();
    }
    Act(next);
  }

  void OnDone() override {
    // Only reached after Finish(), which waits for every pending item.
    service_->Unregister(this);
    delete this;
  }

 private:
  struct Item {
    herald::v1::DispatchRequest request;
    herald::v1::DispatchResponse response;
  };
  enum class Next { kNothing, kWrite, kFinish, kFinishDraining };

  void Complete(const std::shared_ptr<Item>& item, grpc::StatusCode code,
                const std::string& message, bool not_started = false) {
    Next next;
    {
      absl::MutexLock lock(&mu_);
      --pending_;
      if (!broken_) {
        herald::v1::DispatchResult* result = ready_.add_results();
        result->set_request_id(item->request.request_id());
        result->set_code(code);
        result->set_message(message);
        result->set_not_started(not_started);
        result->mutable_response()->Swap(&item->response);
      }
      next = DecideLocked();
    }
    Act(next);
  }

  // What to do next; the gRPC calls themselves are made without the lock.
  Next DecideLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_ || writing_) return Next::kNothing;
    if (!broken_ && ready_.results_size() > 0) {
      writing_ = true;
      out_.Clear();
      out_.Swap(&ready_);
      return Next::kWrite;
    }
    const bool draining = service_->draining();
    if ((reads_done_ || draining) && pending_ == 0) {
      finished_ = true;
      return draining ? Next::kFinishDraining : Next::kFinish;
    }
    return Next::kNothing;
  }

  void Act(Next next) {
    if (next == Next::kWrite) StartWrite(&out_);
    if (next == Next::kFinish) Finish(grpc::Status::OK);
    // Whatever the caller sent that crosses this was not started: it may
    // resend it elsewhere (herald::v1::NotStartedStatus).
    if (next == Next::kFinishDraining) {
      context_->AddTrailingMetadata(herald::v1::kNotStartedTrailer, "1");
      Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, herald::v1::kDispatcherDrainingMessage));
    }
  }

  DispatcherService* service_;
  grpc::CallbackServerContext* context_;  // the call's, alive until OnDone
  absl::Time stream_deadline_;
  herald::v1::DispatchBatch batch_;  // reads only
  absl::Mutex mu_;
  herald::v1::DispatchResults ready_ ABSL_GUARDED_BY(mu_);
  herald::v1::DispatchResults out_;  // owned by the write in flight
  int pending_ ABSL_GUARDED_BY(mu_) = 0;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool reads_done_ ABSL_GUARDED_BY(mu_) = false;
  bool broken_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace

std::shared_ptr<const AppRegistry> DispatcherService::Apps() const {
  absl::MutexLock lock(&apps_mu_);
  return apps_;
}

std::shared_ptr<const AppRegistry> DispatcherService::SetApps(
    std::shared_ptr<const AppRegistry> apps) {
  absl::MutexLock lock(&apps_mu_);
  apps_.swap(apps);
  return apps;
}

void DispatcherService::BeginDrain() {
  draining_.store(true);
  // Holding the lock keeps every listed stream alive: a stream unregisters
  // in OnDone, which gRPC runs on its own threads (server reactors are not
  // inlineable), so it waits here rather than deleting the stream under us.
  absl::MutexLock lock(&streams_mu_);
  for (DrainableStream* s : streams_) s->Drain();
}

bool DispatcherService::WaitForStreamsToEnd(absl::Duration limit) {
  absl::MutexLock lock(&streams_mu_);
  auto none = [this]() ABSL_SHARED_LOCKS_REQUIRED(streams_mu_) { return streams_.empty(); };
  return AwaitMonotonic(&streams_mu_, absl::Condition(&none), limit);
}

void DispatcherService::Register(DrainableStream* stream) {
  absl::MutexLock lock(&streams_mu_);
  streams_.insert(stream);
}

void DispatcherService::Unregister(DrainableStream* stream) {
  absl::MutexLock lock(&streams_mu_);
  streams_.erase(stream);
}

grpc::ServerBidiReactor<herald::v1::DispatchBatch, herald::v1::DispatchResults>*
DispatcherService::DispatchStream(grpc::CallbackServerContext* context) {
  return new StreamReactor(this, context, CallerDeadline(*context, *env_.clock));
}

}  // namespace herald::dispatcher
