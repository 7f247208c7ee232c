// A fixed set of threads that run posted work: the dispatcher's provider
// work (payload building, Web Push ECDH and AES, JWT signing) runs here, not
// on the gRPC thread that read the notification nor on the timer thread.
// Boost.Asio's thread_pool does the work; this names the one use we make of it.
#pragma once

#include <functional>
#include <memory>

#include "common/executor.h"

namespace boost::asio {
class thread_pool;
}

namespace herald {

class WorkPool final : public Executor {
 public:
  // `threads` <= 0 means one per core the machine has.
  explicit WorkPool(int threads);
  // Runs the work posted (and what that work posts) to the end, then joins
  // the threads; work posted once they have left is dropped.
  ~WorkPool() override;
  WorkPool(const WorkPool&) = delete;
  WorkPool& operator=(const WorkPool&) = delete;

  void Post(std::function<void()> fn) override;
  int threads() const { return threads_; }

  // What `threads` <= 0 resolves to.
  static int DefaultThreads();

 private:
  int threads_;
  std::unique_ptr<boost::asio::thread_pool> pool_;
};

}  // namespace herald
