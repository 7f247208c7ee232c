#include "common/work_pool.h"

#include <algorithm>
#include <thread>

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

namespace herald {

int WorkPool::DefaultThreads() {
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
}

WorkPool::WorkPool(int threads)
    : threads_(threads > 0 ? threads : DefaultThreads()),
      pool_(std::make_unique<boost::asio::thread_pool>(threads_)) {}

WorkPool::~WorkPool() { pool_->join(); }

void WorkPool::Post(std::function<void()> fn) { boost::asio::post(*pool_, std::move(fn)); }

}  // namespace herald
