#include "runtime/io/timer.hpp"

#include <time.h>

#include <algorithm>
#include <bit>

namespace sluice::io {

std::int64_t monotonic_ms() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}

Timer::~Timer() {
  if (armed() && wheel_ != nullptr) wheel_->cancel(*this);
}

TimerWheel::TimerWheel(std::int64_t now_ms) : cursor_ms_(now_ms) {
  for (auto& head : heads_) {
    head.prev_ = &head;
    head.next_ = &head;
  }
}

TimerWheel::~TimerWheel() {
  // Timers outliving the wheel must not try to unlink from it.
  for (auto& head : heads_) {
    for (Timer* t = head.next_; t != &head;) {
      Timer* next = t->next_;
      t->prev_ = t->next_ = nullptr;
      t->wheel_ = nullptr;
      t = next;
    }
    head.prev_ = head.next_ = &head;
  }
}

void TimerWheel::link(Timer& timer, std::size_t slot) {
  Head& head = heads_[slot];
  timer.prev_ = head.prev_;
  timer.next_ = &head;
  head.prev_->next_ = &timer;
  head.prev_ = &timer;
  busy_[slot / word_bits] |= std::uint64_t{1} << (slot % word_bits);
}

void TimerWheel::arm(Timer& timer, std::int64_t deadline_ms) {
  if (timer.armed()) cancel(timer);
  // A deadline already past fires on the next advance.
  deadline_ms = std::max(deadline_ms, cursor_ms_ + 1);
  timer.deadline_ms_ = deadline_ms;
  timer.wheel_ = this;
  link(timer, static_cast<std::size_t>(deadline_ms) % slot_count);
  ++count_;
}

void TimerWheel::cancel(Timer& timer) {
  if (!timer.armed()) return;
  timer.prev_->next_ = timer.next_;
  timer.next_->prev_ = timer.prev_;
  if (timer.due_) {
    // Cancelled by an earlier callback of the same advance(): already out of the count.
    timer.due_ = false;
    timer.prev_ = timer.next_ = nullptr;
    return;
  }
  const auto slot = static_cast<std::size_t>(timer.deadline_ms_) % slot_count;
  if (heads_[slot].next_ == &heads_[slot])
    busy_[slot / word_bits] &= ~(std::uint64_t{1} << (slot % word_bits));
  timer.prev_ = timer.next_ = nullptr;
  --count_;
}

std::size_t TimerWheel::advance(std::int64_t now_ms) {
  if (now_ms <= cursor_ms_) return 0;
  // Walk at most one full turn: a longer gap visits every slot once anyway.
  const std::int64_t first = cursor_ms_ + 1;
  const std::int64_t last = std::min(now_ms, first + static_cast<std::int64_t>(slot_count) - 1);
  cursor_ms_ = now_ms;
  // Collect due timers first: a callback may arm or cancel any timer, itself included.
  Head due;
  due.prev_ = due.next_ = &due;
  for (std::int64_t ms = first; ms <= last; ++ms) {
    const auto slot = static_cast<std::size_t>(ms) % slot_count;
    if ((busy_[slot / word_bits] & (std::uint64_t{1} << (slot % word_bits))) == 0) continue;
    Head& head = heads_[slot];
    for (Timer* t = head.next_; t != &head;) {
      Timer* next = t->next_;
      if (t->deadline_ms_ <= now_ms) {
        cancel(*t);
        t->due_ = true;
        t->prev_ = due.prev_;
        t->next_ = &due;
        due.prev_->next_ = t;
        due.prev_ = t;
      }
      t = next;
    }
  }
  std::size_t fired = 0;
  while (due.next_ != &due) {
    Timer* t = due.next_;
    due.next_ = t->next_;
    t->next_->prev_ = &due;
    t->prev_ = t->next_ = nullptr;
    t->due_ = false;
    ++fired;
    t->on_timer();
  }
  return fired;
}

std::size_t TimerWheel::next_busy_slot(std::size_t from) const {
  // Search [from, end) then wrap to [0, from).
  for (std::size_t pass = 0; pass < 2; ++pass) {
    std::size_t slot = pass == 0 ? from : 0;
    const std::size_t end = pass == 0 ? slot_count : from;
    while (slot < end) {
      std::uint64_t word = busy_[slot / word_bits] >> (slot % word_bits);
      if (word != 0) {
        const std::size_t found = slot + static_cast<std::size_t>(std::countr_zero(word));
        if (found < end) return found;
        break;
      }
      slot = (slot / word_bits + 1) * word_bits;
    }
  }
  return slot_count;
}

int TimerWheel::next_timeout(std::int64_t now_ms) const {
  if (count_ == 0) return -1;
  const auto from = static_cast<std::size_t>(cursor_ms_ + 1) % slot_count;
  const std::size_t slot = next_busy_slot(from);
  if (slot == slot_count) return -1;
  const std::int64_t distance =
      static_cast<std::int64_t>((slot + slot_count - from) % slot_count) + 1;
  const std::int64_t wake = cursor_ms_ + distance;
  return static_cast<int>(std::max<std::int64_t>(0, wake - now_ms));
}

}  // namespace sluice::io
