#include "runtime/io/loop.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <stdexcept>
#include <system_error>
#include <utility>

namespace sluice::io {

Loop::Loop() : now_ms_(monotonic_ms()), timers_(now_ms_) {
  owned_.prev_ = owned_.next_ = &owned_;
  retired_.prev_ = retired_.next_ = &retired_;
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  event_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (epoll_fd_ < 0 || event_fd_ < 0)
    throw std::system_error(errno, std::generic_category(), "cannot create an event loop");
  add(event_fd_, wakeup_, EPOLLIN | EPOLLET);
}

Loop::~Loop() {
  // Whatever is still open when the loop ends goes with it.
  while (owned_.next_ != &owned_)
    retire(*owned_.next_);
  delete_retired();
  if (event_fd_ >= 0) close(event_fd_);
  if (epoll_fd_ >= 0) close(epoll_fd_);
}

bool Loop::add(int fd, Pollable& owner, std::uint32_t events) {
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = &owner;
  return epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) == 0;
}

bool Loop::modify(int fd, Pollable& owner, std::uint32_t events) {
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = &owner;
  return epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &ev) == 0;
}

void Loop::remove(int fd) {
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
}

void Loop::adopt(Owned& owned) {
  owned.prev_ = owned_.prev_;
  owned.next_ = &owned_;
  owned_.prev_->next_ = &owned;
  owned_.prev_ = &owned;
  ++owned_count_;
}

void Loop::retire(Owned& done) {
  done.prev_->next_ = done.next_;
  done.next_->prev_ = done.prev_;
  --owned_count_;
  done.prev_ = retired_.prev_;
  done.next_ = &retired_;
  retired_.prev_->next_ = &done;
  retired_.prev_ = &done;
}

void Loop::delete_retired() {
  while (retired_.next_ != &retired_) {
    Owned* done = retired_.next_;
    retired_.next_ = done->next_;
    done->next_->prev_ = &retired_;
    delete done;
  }
}

void Loop::Wakeup::on_events(std::uint32_t) {
  std::uint64_t value = 0;
  while (read(loop.event_fd_, &value, sizeof value) > 0) {
  }
  loop.run_posted();
}

void Loop::run_posted() {
  std::vector<std::function<void()>> tasks;
  {
    std::lock_guard lock(posted_mutex_);
    tasks.swap(posted_);
  }
  for (auto& task : tasks)
    task();
}

void Loop::post(std::function<void()> task) {
  {
    std::lock_guard lock(posted_mutex_);
    posted_.push_back(std::move(task));
  }
  const std::uint64_t one = 1;
  [[maybe_unused]] auto n = write(event_fd_, &one, sizeof one);
}

void Loop::stop() {
  stopping_.store(true, std::memory_order_release);
  const std::uint64_t one = 1;
  [[maybe_unused]] auto n = write(event_fd_, &one, sizeof one);
}

void Loop::defer(Deferred& d) {
  if (d.queued_) return;
  d.queued_ = true;
  d.next_deferred_ = deferred_;
  deferred_ = &d;
}

void Loop::cancel(Deferred& d) {
  if (!d.queued_) return;
  for (Deferred** p = &deferred_; *p != nullptr; p = &(*p)->next_deferred_) {
    if (*p == &d) {
      *p = d.next_deferred_;
      break;
    }
  }
  d.queued_ = false;
}

void Loop::run_deferred() {
  // What a deferred call defers again runs in this turn too, within reason.
  for (int round = 0; round < 16 && deferred_ != nullptr; ++round) {
    Deferred* list = std::exchange(deferred_, nullptr);
    while (list != nullptr) {
      Deferred* d = list;
      list = d->next_deferred_;
      d->queued_ = false;
      d->on_deferred();
    }
  }
}

void Loop::run() {
  std::array<epoll_event, 256> events;
  while (!stopping_.load(std::memory_order_acquire)) {
    const int timeout = deferred_ ? 0 : timers_.next_timeout(now_ms_);
    const int n = epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()), timeout);
    now_ms_ = monotonic_ms();
    if (n < 0 && errno != EINTR)
      throw std::system_error(errno, std::generic_category(), "epoll_wait");
    for (int i = 0; i < n; ++i)
      static_cast<Pollable*>(events[static_cast<std::size_t>(i)].data.ptr)
          ->on_events(events[static_cast<std::size_t>(i)].events);
    run_deferred();
    timers_.advance(now_ms_);
    run_deferred();  // what timers deferred
    delete_retired();
    // Draining (soft stop): done once the last connection has finished.
    if (draining_ && owned_count_ == 0) break;
  }
  delete_retired();
}

}  // namespace sluice::io
