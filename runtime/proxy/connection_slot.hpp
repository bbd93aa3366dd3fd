// maxconn accounting: a connection holds one slot of its frontend and one of the process
// from accept to close. Counters are shared by every loop, so they are atomics.
#pragma once

#include <atomic>
#include <cstdint>

namespace sluice::proxy {

struct SlotCounter {
  std::atomic<int> active{0};
  std::atomic<std::uint64_t> total{0};  // connections ever counted (show info's CumConns)
  int limit = 0;                        // 0: unlimited
  bool full() const { return limit > 0 && active.load(std::memory_order_relaxed) >= limit; }
};

// Moved into the connection; releases on destruction or release().
class ConnectionSlot {
 public:
  ConnectionSlot() = default;
  ConnectionSlot(SlotCounter* frontend, SlotCounter* process)
      : frontend_(frontend), process_(process) {
    if (frontend_) frontend_->active.fetch_add(1, std::memory_order_relaxed);
    if (process_) {
      process_->active.fetch_add(1, std::memory_order_relaxed);
      process_->total.fetch_add(1, std::memory_order_relaxed);
    }
  }
  ConnectionSlot(ConnectionSlot&& other) noexcept
      : frontend_(other.frontend_), process_(other.process_) {
    other.frontend_ = other.process_ = nullptr;
  }
  ConnectionSlot& operator=(ConnectionSlot&& other) noexcept {
    if (this != &other) {
      release();
      frontend_ = other.frontend_;
      process_ = other.process_;
      other.frontend_ = other.process_ = nullptr;
    }
    return *this;
  }
  ConnectionSlot(const ConnectionSlot&) = delete;
  ConnectionSlot& operator=(const ConnectionSlot&) = delete;
  ~ConnectionSlot() { release(); }
  // %ac and %fc of a log line: the process's and the frontend's connections now.
  int process_connections() const {
    return process_ ? process_->active.load(std::memory_order_relaxed) : 0;
  }
  int frontend_connections() const {
    return frontend_ ? frontend_->active.load(std::memory_order_relaxed) : 0;
  }
  void release() {
    if (frontend_) frontend_->active.fetch_sub(1, std::memory_order_relaxed);
    if (process_) process_->active.fetch_sub(1, std::memory_order_relaxed);
    frontend_ = process_ = nullptr;
  }

 private:
  SlotCounter* frontend_ = nullptr;
  SlotCounter* process_ = nullptr;
};

}  // namespace sluice::proxy
