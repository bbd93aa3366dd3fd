// One event loop per thread: epoll in edge-triggered mode (a descriptor is registered
// once and never re-armed), the timer wheel, and an eventfd so other threads can wake it.
// Knows nothing of HTTP, TLS or the configuration.
#pragma once

#include <sys/epoll.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "runtime/io/timer.hpp"

namespace sluice::io {

// Whoever owns a descriptor registered with a loop: told which events arrived.
class Pollable {
 public:
  virtual ~Pollable() = default;
  virtual void on_events(std::uint32_t events) = 0;
};

// A connection-like object whose lifetime the loop manages: adopted when it starts,
// retired when done, and deleted with the loop if still open when the loop ends.
class Owned : public Pollable {
 private:
  friend class Loop;
  Owned* prev_ = nullptr;
  Owned* next_ = nullptr;
};

// Work gathered during a batch of events and done once after it (a connection writing
// the frames several of its streams produced): see Loop::defer().
class Deferred {
 public:
  virtual void on_deferred() = 0;

 protected:
  ~Deferred() = default;

 private:
  friend class Loop;
  Deferred* next_deferred_ = nullptr;
  bool queued_ = false;
};

class Loop {
 public:
  Loop();
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;
  ~Loop();

  // Edge-triggered registration: EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET unless given.
  bool add(int fd, Pollable& owner,
           std::uint32_t events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET);
  // Closing a descriptor (never duplicated here) deregisters it: remove() is for one that
  // stays open.
  void remove(int fd);
  // Hands a registered descriptor to another owner (same events); the kernel reports its
  // current readiness to the new owner.
  bool modify(int fd, Pollable& owner,
              std::uint32_t events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET);

  void arm(Timer& timer, std::int64_t delay_ms) { timers_.arm(timer, now_ms_ + delay_ms); }
  void cancel(Timer& timer) { timers_.cancel(timer); }
  std::int64_t now_ms() const { return now_ms_; }
  // For a long-lived reader of the loop's clock (it moves once per batch of events).
  const std::int64_t& now_ms_ref() const { return now_ms_; }

  // Runs until stop(); each turn: wait for events or the next timer, dispatch, fire timers.
  void run();
  // From any thread: ends run() after the current turn.
  void stop();
  // On the loop's thread: ends run() once every adopted object has been retired.
  void drain() { draining_ = true; }
  // From any thread: runs `task` on this loop's thread, in a later turn. Rare (control
  // messages such as soft-stop), so a mutex-protected queue is fine here.
  void post(std::function<void()> task);

  // Calls `d.on_deferred()` once the current batch of events has been dispatched (before
  // the timers), once however often it is deferred meanwhile.
  void defer(Deferred& d);
  // Takes `d` off the list (it is going away).
  void cancel(Deferred& d);

  // Takes ownership of a new object (allocated with new).
  void adopt(Owned& owned);
  // Deletes it once the current batch of events has been dispatched: a later event of the
  // same batch may still name it (its owner checks that it is closed and returns).
  void retire(Owned& done);
  std::size_t owned_count() const { return owned_count_; }

 private:
  struct Wakeup final : Pollable {
    explicit Wakeup(Loop& loop) : loop(loop) {}
    void on_events(std::uint32_t) override;
    Loop& loop;
  };
  void run_posted();

  int epoll_fd_ = -1;
  int event_fd_ = -1;
  std::int64_t now_ms_;
  TimerWheel timers_;
  Wakeup wakeup_{*this};
  std::atomic<bool> stopping_{false};
  std::mutex posted_mutex_;
  std::vector<std::function<void()>> posted_;
  struct Sentinel final : Owned {
    void on_events(std::uint32_t) override {}
  };
  Sentinel owned_;    // of the adopted objects' circular list
  Sentinel retired_;  // of those waiting for the end of the batch
  std::size_t owned_count_ = 0;
  bool draining_ = false;
  Deferred* deferred_ = nullptr;
  void delete_retired();
  void run_deferred();
};

}  // namespace sluice::io
