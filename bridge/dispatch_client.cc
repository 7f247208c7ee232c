#include "bridge/dispatch_client.h"

#include <string>

#include "absl/container/flat_hash_map.h"

#include "common/log.h"
#include "proto/herald/v1/protocol.h"

namespace herald::bridge {

class DispatchClient::Stream
    : public grpc::ClientBidiReactor<herald::v1::DispatchBatch, herald::v1::DispatchResults> {
 public:
  Stream(herald::v1::Dispatcher::Stub* stub, std::shared_ptr<Live> live)
      : stub_(stub), live_(std::move(live)) {
    absl::MutexLock lock(&live_->mu);
    ++live_->streams;
    live_->cancellable.insert(this);
  }

  // Starts the call; `self` keeps the reactor alive until OnDone.
  void Begin(std::shared_ptr<Stream> self) {
    self_ = std::move(self);
    stub_->async()->DispatchStream(&context_, this);
    AddHold();  // released once the stream is dead and no write is in flight
    StartRead(&results_);
    StartCall();
  }

  // Takes `*request` and `*done` unless the stream is dead (then returns
  // false and leaves them for another stream).
  bool Send(herald::v1::DispatchRequest* request, Callback* done) {
    bool write = false;
    {
      absl::MutexLock lock(&mu_);
      if (dead_) return false;
      pending_.emplace(request->request_id(), std::move(*done));
      queued_.add_requests()->Swap(request);
      write = StartWriteLocked();
    }
    if (write) StartWrite(&out_);
    return true;
  }

  bool dead() {
    absl::MutexLock lock(&mu_);
    return dead_;
  }

  void Close() { context_.TryCancel(); }

  void OnReadDone(bool ok) override {
    if (!ok) {
      Retire();
      return;
    }
    // A draining dispatcher takes nothing more on this stream: retire it
    // before the callbacks run, so that what they send again opens a new one.
    for (const herald::v1::DispatchResult& result : results_.results()) {
      if (result.not_started()) {
        Retire();
        break;
      }
    }
    for (herald::v1::DispatchResult& result : *results_.mutable_results()) {
      Callback done;
      {
        absl::MutexLock lock(&mu_);
        auto it = pending_.find(result.request_id());
        if (it == pending_.end()) continue;
        done = std::move(it->second);
        pending_.erase(it);
      }
      grpc::Status status(static_cast<grpc::StatusCode>(result.code()), result.message(),
                          result.not_started() ? herald::v1::kNotStartedDetails : "");
      done(status, status.ok() ? result.mutable_response() : nullptr);
    }
    results_.Clear();
    StartRead(&results_);
  }

  void OnWriteDone(bool ok) override {
    bool write = false, release = false;
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      if (!ok) dead_ = true;
      write = !dead_ && StartWriteLocked();
      release = ReleaseHoldLocked();
    }
    if (write) StartWrite(&out_);
    if (release) RemoveHold();
  }

  void OnDone(const grpc::Status& status) override {
    {
      absl::flat_hash_map<std::string, Callback> pending;
      {
        absl::MutexLock lock(&mu_);
        dead_ = true;
        pending.swap(pending_);
      }
      if (!pending.empty()) {
        HERALD_LOG(kWarning, "bridge", "stream to the dispatcher ended (", status.error_message(),
                   ") with ", pending.size(), " request(s) in flight");
      }
      // Ended by a draining dispatcher: what is still pending was not started.
      grpc::Status broken = DrainedEnd(status)
                                ? herald::v1::NotStartedStatus()
                                : grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                               status.ok() ? "the dispatcher closed the stream"
                                                           : status.error_message());
      for (auto& [id, done] : pending) done(broken, nullptr);
      // The callbacks hold sessions of the HTTP server: they go here, before
      // the count below lets ~DispatchClient (and then the server) finish.
      // (Found by AddressSanitizer: a session outlived its io_context.)
    }
    std::shared_ptr<Live> live = live_;
    {
      absl::MutexLock lock(&live->mu);
      live->cancellable.erase(this);  // before it may be deleted
    }
    self_.reset();  // may delete this
    absl::MutexLock lock(&live->mu);
    --live->streams;
  }

 private:
  // The stream was ended by a draining dispatcher: what it still had
  // pending was not started.
  bool DrainedEnd(const grpc::Status& status) {
    if (status.error_code() != grpc::StatusCode::UNAVAILABLE) return false;
    const auto& trailers = context_.GetServerTrailingMetadata();
    auto it = trailers.find(herald::v1::kNotStartedTrailer);
    return it != trailers.end() && it->second == "1";
  }

  bool StartWriteLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (writing_ || queued_.requests_size() == 0) return false;
    writing_ = true;
    out_.Clear();
    out_.Swap(&queued_);
    return true;
  }

  // No more requests on this stream; its hold goes once no write is in flight.
  void Retire() {
    bool release;
    {
      absl::MutexLock lock(&mu_);
      dead_ = true;
      release = ReleaseHoldLocked();
    }
    if (release) RemoveHold();
  }

  bool ReleaseHoldLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (!dead_ || writing_ || hold_released_) return false;
    hold_released_ = true;
    return true;
  }

  herald::v1::Dispatcher::Stub* stub_;
  std::shared_ptr<Live> live_;
  grpc::ClientContext context_;
  std::shared_ptr<Stream> self_;
  herald::v1::DispatchResults results_;  // reads only
  herald::v1::DispatchBatch out_;        // owned by the write in flight
  absl::Mutex mu_;
  herald::v1::DispatchBatch queued_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, Callback> pending_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool dead_ ABSL_GUARDED_BY(mu_) = false;
  bool hold_released_ ABSL_GUARDED_BY(mu_) = false;
};

DispatchClient::DispatchClient(std::shared_ptr<herald::v1::Dispatcher::Stub> stub, int streams)
    : stub_(std::move(stub)) {
  absl::MutexLock lock(&mu_);
  streams_.resize(std::max(1, streams));
}

DispatchClient::~DispatchClient() {
  {
    absl::MutexLock lock(&mu_);
    closing_ = true;  // late resends fail fast instead of opening streams
  }
  // Every stream, retired ones included, is cancelled; each ends promptly
  // and must not outlive what its callbacks post into: wait for all.
  absl::MutexLock lock(&live_->mu);
  for (Stream* s : live_->cancellable) s->Close();
  auto all_done = [this]() ABSL_SHARED_LOCKS_REQUIRED(live_->mu) { return live_->streams == 0; };
  while (!live_->mu.AwaitWithTimeout(absl::Condition(&all_done), absl::Seconds(10))) {
    HERALD_LOG(kWarning, "bridge", live_->streams,
               " stream(s) to the dispatcher not ended 10 s after cancelling; still waiting");
  }
}

std::shared_ptr<DispatchClient::Stream> DispatchClient::PickStream() {
  size_t i = next_.fetch_add(1, std::memory_order_relaxed);
  absl::MutexLock lock(&mu_);
  if (closing_) return nullptr;
  std::shared_ptr<Stream>& slot = streams_[i % streams_.size()];
  if (slot == nullptr || slot->dead()) {
    slot = std::make_shared<Stream>(stub_.get(), live_);
    slot->Begin(slot);
  }
  return slot;
}

void DispatchClient::Dispatch(herald::v1::DispatchRequest request, Callback done) {
  // A stream can die between the pick and the send: try a fresh one, once.
  for (int attempt = 0; attempt < 2; ++attempt) {
    std::shared_ptr<Stream> stream = PickStream();
    if (stream == nullptr) break;  // shutting down
    if (stream->Send(&request, &done)) return;
  }
  done(grpc::Status(grpc::StatusCode::UNAVAILABLE, "no stream to the dispatcher"), nullptr);
}

}  // namespace herald::bridge
