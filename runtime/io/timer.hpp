// Timers for one event loop: a wheel of intrusive lists, O(1) to arm and cancel, no
// allocation. Connections embed their Timer; the loop fires due ones. Not thread-safe:
// a timer belongs to the loop (thread) that armed it.
#pragma once

#include <array>
#include <cstdint>

namespace sluice::io {

class Timer {
 public:
  Timer() = default;
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;
  virtual ~Timer();
  virtual void on_timer() = 0;
  bool armed() const { return next_ != nullptr; }

 private:
  friend class TimerWheel;
  Timer* prev_ = nullptr;
  Timer* next_ = nullptr;
  class TimerWheel* wheel_ = nullptr;
  std::int64_t deadline_ms_ = 0;
  // On advance()'s list of timers firing now, out of the wheel: not counted in it.
  bool due_ = false;
};

// 4096 slots of 1 ms: a deadline further than 4.096 s away waits in its slot for its round.
// A bitmap of non-empty slots finds the next wake-up without walking the slots.
class TimerWheel {
 public:
  explicit TimerWheel(std::int64_t now_ms);
  TimerWheel(const TimerWheel&) = delete;
  TimerWheel& operator=(const TimerWheel&) = delete;
  ~TimerWheel();

  void arm(Timer& timer, std::int64_t deadline_ms);
  void cancel(Timer& timer);
  // Fires every timer due at or before now_ms; returns how many fired.
  std::size_t advance(std::int64_t now_ms);
  // Milliseconds until the next non-empty slot comes round, or -1 when no timer is armed.
  int next_timeout(std::int64_t now_ms) const;
  std::size_t size() const { return count_; }

 private:
  static constexpr std::size_t slot_count = 4096;
  static constexpr std::size_t word_bits = 64;
  struct Head final : Timer {
    void on_timer() override {}
  };
  void link(Timer& timer, std::size_t slot);
  std::size_t next_busy_slot(std::size_t from) const;  // slot_count when none

  std::array<Head, slot_count> heads_;
  std::array<std::uint64_t, slot_count / word_bits> busy_{};
  std::int64_t cursor_ms_;  // every slot up to here has been processed
  std::size_t count_ = 0;
};

std::int64_t monotonic_ms();

}  // namespace sluice::io
