#include "bridge/dispatch_client.h"

#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "absl/strings/str_join.h"
#include "common/executor.h"
#include "common/log.h"
#include "proto/herald/v1/protocol.h"

namespace herald::bridge {

constexpr char kComponent[] = "bridge";

struct DispatchClient::Live {
  absl::Mutex mu;
  int streams ABSL_GUARDED_BY(mu) = 0;
  // Those that may still be cancelled; a stream leaves before it may be
  // deleted.
  absl::flat_hash_set<Stream*> cancellable ABSL_GUARDED_BY(mu);
};

// One dispatcher address: its channel, and the slots of its streams (under
// the client's mu_). Streams share it, so a dispatcher that left the target
// keeps its channel until its last stream is done; the slots only point at
// the streams (each keeps itself until OnDone), so neither keeps the other.
struct DispatchClient::Backend {
  Backend(std::string address_target, std::shared_ptr<grpc::Channel> ch, int streams)
      : address(std::move(address_target)),
        channel(std::move(ch)),
        stub(herald::v1::Dispatcher::NewStub(channel)),
        slots(static_cast<size_t>(std::max(1, streams))) {}

  bool connected() { return channel->GetState(/*try_to_connect=*/false) == GRPC_CHANNEL_READY; }

  // It said it is draining: new notifications go elsewhere while another
  // dispatcher is connected, for as long as a drain lasts (a stream opened
  // to a dispatcher that is shutting down is refused after its requests were
  // written, which would answer them 503).
  void MarkDraining() {
    draining_until_ms.store(absl::ToUnixMillis(MonotonicNow() + kDrainingHold),
                            std::memory_order_relaxed);
  }
  bool draining(absl::Time now) const {
    return absl::ToUnixMillis(now) < draining_until_ms.load(std::memory_order_relaxed);
  }
  static constexpr absl::Duration kDrainingHold = absl::Seconds(15);

  const std::string address;
  const std::shared_ptr<grpc::Channel> channel;
  const std::unique_ptr<herald::v1::Dispatcher::Stub> stub;
  std::vector<std::weak_ptr<Stream>> slots;
  size_t next_slot = 0;
  std::atomic<int64_t> draining_until_ms{0};  // monotonic
  bool seen_down = false;                     // the resolver thread's
};

class DispatchClient::Stream
    : public grpc::ClientBidiReactor<herald::v1::DispatchBatch, herald::v1::DispatchResults> {
 public:
  Stream(std::shared_ptr<Backend> backend, std::shared_ptr<Live> live)
      : backend_(std::move(backend)), live_(std::move(live)), born_(MonotonicNow()) {
    absl::MutexLock lock(&live_->mu);
    ++live_->streams;
    live_->cancellable.insert(this);
  }

  // Starts the call; `self` keeps the reactor alive until OnDone.
  void Begin(std::shared_ptr<Stream> self) {
    self_ = std::move(self);
    backend_->stub->async()->DispatchStream(&context_, this);
    AddHold();  // released once nothing more will be written (ReleaseHoldLocked)
    StartRead(&results_);
    StartCall();
  }

  // Takes `*request` and `*done` unless the stream takes no more (then
  // returns false and leaves them for another stream).
  bool Send(herald::v1::DispatchRequest* request, Callback* done) {
    bool write = false;
    {
      absl::MutexLock lock(&mu_);
      if (!accepting_) return false;
      pending_.emplace(request->request_id(), std::move(*done));
      queued_.add_requests()->Swap(request);
      write = StartWriteLocked();
    }
    if (write) StartWrite(&out_);
    return true;
  }

  // Takes requests, and is younger than `max_age`.
  bool usable(absl::Time now, absl::Duration max_age) {
    absl::MutexLock lock(&mu_);
    return accepting_ && now - born_ < max_age;
  }

  // Takes nothing more; what it took is still sent and answered, then the
  // stream ends (half-close: the dispatcher finishes once it has answered).
  void Retire() { Stop(/*write_rest=*/true); }

  void Close() { context_.TryCancel(); }

  void OnReadDone(bool ok) override {
    if (!ok) {
      Stop(/*write_rest=*/false);
      return;
    }
    // A draining dispatcher takes nothing more on this stream: stop it
    // before the callbacks run, so that what they send again goes on
    // another stream. (What it still had queued is answered "not started"
    // at once, and sent elsewhere.)
    for (const herald::v1::DispatchResult& result : results_.results()) {
      if (result.not_started()) {
        backend_->MarkDraining();
        Stop(/*write_rest=*/false);
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
      if (!ok) {
        writable_ = false;  // the call is over: nothing more goes on it
        accepting_ = false;
      }
      write = writable_ && StartWriteLocked();
      release = ReleaseHoldLocked();
    }
    if (write) StartWrite(&out_);
    if (release) EndWrites();
  }

  void OnDone(const grpc::Status& status) override {
    {
      absl::flat_hash_map<std::string, Callback> pending;
      std::vector<Callback> unsent;
      {
        absl::MutexLock lock(&mu_);
        accepting_ = false;
        unsent = TakeUnsentLocked();
        pending.swap(pending_);
      }
      if (!pending.empty() || !unsent.empty()) {
        HERALD_LOG(kWarning, kComponent, "stream to the dispatcher at ", backend_->address,
                   " ended (", status.error_message(), ") with ", pending.size(),
                   " request(s) in flight and ", unsent.size(), " not sent yet");
      }
      // Ended by a draining dispatcher: what is still pending was not
      // started (and goes elsewhere: it is marked draining first).
      // Otherwise only what never left this side surely was not.
      const bool drained = DrainedEnd(status);
      if (drained) backend_->MarkDraining();
      grpc::Status broken = drained ? herald::v1::NotStartedStatus()
                                    : grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                                   status.ok() ? "the dispatcher closed the stream"
                                                               : status.error_message());
      for (Callback& done : unsent) done(herald::v1::NotStartedStatus(), nullptr);
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

  // The callbacks of what was queued and never written (it never left this
  // side: safe to send elsewhere), out of pending_.
  std::vector<Callback> TakeUnsentLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    std::vector<Callback> unsent;
    for (const herald::v1::DispatchRequest& r : queued_.requests()) {
      auto it = pending_.find(r.request_id());
      if (it == pending_.end()) continue;
      unsent.push_back(std::move(it->second));
      pending_.erase(it);
    }
    queued_.Clear();
    return unsent;
  }

  bool StartWriteLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (writing_ || queued_.requests_size() == 0) return false;
    writing_ = true;
    out_.Clear();
    out_.Swap(&queued_);
    return true;
  }

  // Takes nothing more; with `write_rest` what is queued is still written
  // and the stream half-closed after it, else what is queued is answered
  // "not started" now (it never left), so that it is sent elsewhere at once
  // rather than when the dispatcher ends the stream.
  void Stop(bool write_rest) {
    bool release;
    std::vector<Callback> unsent;
    {
      absl::MutexLock lock(&mu_);
      accepting_ = false;
      if (!write_rest) {
        writable_ = false;
        unsent = TakeUnsentLocked();
      }
      release = ReleaseHoldLocked();
    }
    for (Callback& done : unsent) done(herald::v1::NotStartedStatus(), nullptr);
    if (release) EndWrites();
  }

  // Nothing more will be written: once, after the last write.
  bool ReleaseHoldLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (accepting_ || writing_ || hold_released_) return false;
    if (writable_ && queued_.requests_size() > 0) return false;  // still to write
    hold_released_ = true;
    half_close_ = writable_;
    return true;
  }

  void EndWrites() {
    if (half_close_) StartWritesDone();
    RemoveHold();
  }

  const std::shared_ptr<Backend> backend_;
  const std::shared_ptr<Live> live_;
  const absl::Time born_;
  grpc::ClientContext context_;
  std::shared_ptr<Stream> self_;
  herald::v1::DispatchResults results_;  // reads only
  herald::v1::DispatchBatch out_;        // owned by the write in flight
  absl::Mutex mu_;
  herald::v1::DispatchBatch queued_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, Callback> pending_ ABSL_GUARDED_BY(mu_);
  bool accepting_ ABSL_GUARDED_BY(mu_) = true;  // Send() takes requests
  bool writable_ ABSL_GUARDED_BY(mu_) = true;   // no write failed, reads not ended
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool hold_released_ ABSL_GUARDED_BY(mu_) = false;
  bool half_close_ = false;  // set once, before EndWrites
};

DispatchClient::DispatchClient(Options options, ChannelFactory make_channel)
    : options_(std::move(options)),
      make_channel_(std::move(make_channel)),
      live_(std::make_shared<Live>()) {
  absl::StatusOr<std::vector<std::string>> first = options_.resolve(options_.target);
  {
    absl::MutexLock lock(&mu_);
    if (first.ok()) Apply(*std::move(first));
  }
  if (!first.ok()) {
    HERALD_LOG(kWarning, kComponent, "dispatcher.target: ", first.status().message(),
               "; trying again every second");
  }
  resolver_ = std::thread([this] { Run(); });
}

DispatchClient::~DispatchClient() {
  {
    absl::MutexLock lock(&mu_);
    closing_ = true;  // late resends fail fast instead of opening streams
  }
  resolver_.join();
  // Every stream, retired ones included, is cancelled; each ends promptly
  // and must not outlive what its callbacks post into: wait for all.
  absl::MutexLock lock(&live_->mu);
  for (Stream* s : live_->cancellable) s->Close();
  auto all_done = [this]() ABSL_SHARED_LOCKS_REQUIRED(live_->mu) { return live_->streams == 0; };
  while (!live_->mu.AwaitWithTimeout(absl::Condition(&all_done), absl::Seconds(10))) {
    HERALD_LOG(kWarning, kComponent, live_->streams,
               " stream(s) to the dispatcher not ended 10 s after cancelling; still waiting");
  }
}

// Every second: channels that are not connected are asked to connect (a
// dispatcher that restarted is found as soon as it listens); every
// resolve_interval (every second while the name does not resolve): the
// target is resolved again.
void DispatchClient::Run() {
  absl::Time next_resolve = MonotonicNow() + options_.resolve_interval;
  bool failing = false;
  absl::MutexLock lock(&mu_);
  while (true) {
    AwaitMonotonic(&mu_, absl::Condition(&closing_), options_.tick);
    if (closing_) return;
    for (const std::shared_ptr<Backend>& b : backends_) {
      // A drained dispatcher's connection goes once it exits; connected
      // again, it is what listens there next (a restart), not draining.
      // (The mark holds until then: just after the exit the channel may
      // still look connected for a moment.)
      const bool ready = b->channel->GetState(true) == GRPC_CHANNEL_READY;
      if (!ready) {
        b->seen_down = true;
      } else if (b->seen_down) {
        b->seen_down = false;
        b->draining_until_ms.store(0, std::memory_order_relaxed);
      }
    }
    if (options_.target.kind != DispatcherTarget::Kind::kDns) continue;
    if (MonotonicNow() < next_resolve && !(failing || backends_.empty())) continue;
    mu_.Unlock();
    absl::StatusOr<std::vector<std::string>> found = options_.resolve(options_.target);
    mu_.Lock();
    next_resolve = MonotonicNow() + options_.resolve_interval;
    if (!found.ok()) {
      if (!failing) {
        HERALD_LOG(kWarning, kComponent, "dispatcher.target: ", found.status().message(),
                   "; keeping ", backends_.size(), " known dispatcher address(es)");
      }
      failing = true;
      continue;
    }
    failing = false;
    Apply(*std::move(found));
  }
}

void DispatchClient::Apply(std::vector<std::string> addresses) {
  std::vector<std::shared_ptr<Backend>> next;
  std::vector<std::string> added, removed;
  size_t old = 0;
  for (const std::string& a : addresses) {  // both sorted
    while (old < backends_.size() && backends_[old]->address < a) {
      removed.push_back(backends_[old++]->address);
    }
    if (old < backends_.size() && backends_[old]->address == a) {
      next.push_back(backends_[old++]);
      continue;
    }
    next.push_back(std::make_shared<Backend>(a, make_channel_(a), options_.streams_per_dispatcher));
    next.back()->channel->GetState(true);
    added.push_back(a);
  }
  for (; old < backends_.size(); ++old) removed.push_back(backends_[old]->address);
  for (const std::shared_ptr<Backend>& b : backends_) {
    if (std::binary_search(addresses.begin(), addresses.end(), b->address)) continue;
    for (const std::weak_ptr<Stream>& slot : b->slots) {
      if (std::shared_ptr<Stream> s = slot.lock()) s->Retire();
    }
  }
  backends_.swap(next);
  if (!added.empty() || !removed.empty()) {
    HERALD_LOG(kInfo, kComponent, "dispatchers: ", backends_.size(), " address(es)",
               added.empty() ? "" : "; added ", absl::StrJoin(added, ", "),
               removed.empty() ? "" : "; removed ", absl::StrJoin(removed, ", "));
  }
}

std::shared_ptr<DispatchClient::Stream> DispatchClient::PickStream() {
  absl::MutexLock lock(&mu_);
  if (closing_ || backends_.empty()) return nullptr;
  // Connected dispatchers in turn (those not connected skipped without
  // doubling a neighbour's share); none connected: each in turn anyway (the
  // call then fails fast, or finds it just connected).
  const size_t n = backends_.size();
  const uint64_t turn = next_++;
  // Connected and not draining; else connected; else any.
  const absl::Time now = MonotonicNow();
  absl::InlinedVector<size_t, 16> connected, serving;
  for (size_t i = 0; i < n; ++i) {
    if (!backends_[i]->connected()) continue;
    connected.push_back(i);
    if (!backends_[i]->draining(now)) serving.push_back(i);
  }
  if (!serving.empty()) connected.swap(serving);
  const size_t chosen = connected.empty() ? turn % n : connected[turn % connected.size()];
  const std::shared_ptr<Backend>& backend = backends_[chosen];
  std::weak_ptr<Stream>& slot = backend->slots[backend->next_slot++ % backend->slots.size()];
  std::shared_ptr<Stream> stream = slot.lock();
  if (stream == nullptr || !stream->usable(MonotonicNow(), options_.stream_max_age)) {
    if (stream != nullptr) stream->Retire();
    stream = std::make_shared<Stream>(backend, live_);  // which keeps the backend
    stream->Begin(stream);
    slot = stream;
  }
  return stream;
}

void DispatchClient::Dispatch(herald::v1::DispatchRequest request, Callback done) {
  // A stream can stop taking requests between the pick and the send: try
  // another, a few times.
  for (int attempt = 0; attempt < 3; ++attempt) {
    std::shared_ptr<Stream> stream = PickStream();
    if (stream == nullptr) break;  // shutting down, or no address known
    if (stream->Send(&request, &done)) return;
  }
  done(grpc::Status(grpc::StatusCode::UNAVAILABLE, "no stream to a dispatcher"), nullptr);
}

bool DispatchClient::Ready() {
  absl::MutexLock lock(&mu_);
  bool any = false;
  for (const std::shared_ptr<Backend>& b : backends_) {
    any = b->channel->GetState(/*try_to_connect=*/true) == GRPC_CHANNEL_READY || any;
  }
  return any;
}

std::vector<std::string> DispatchClient::Addresses() {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> out;
  for (const std::shared_ptr<Backend>& b : backends_) out.push_back(b->address);
  return out;
}

}  // namespace herald::bridge
