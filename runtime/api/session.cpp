#include "runtime/api/session.hpp"

#include <sys/socket.h>

#include <cerrno>

namespace sluice::api {

void Listener::on_events(std::uint32_t) {
  for (int i = 0; i < 16; ++i) {
    const int fd = accept4(fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;  // EAGAIN: another loop took it, or the queue is empty
    Session::start(loop_, io::Fd(fd), settings_);
  }
}

void Session::start(io::Loop& loop, io::Fd fd, const ListenerSettings& settings) {
  auto* s = new Session(loop, std::move(fd), settings);
  loop.adopt(*s);
  if (!loop.add(s->fd_.get(), *s)) {
    s->end();
    return;
  }
  if (settings.timeout_ms > 0) loop.arm(*s, settings.timeout_ms);
}

Session::Session(io::Loop& loop, io::Fd fd, const ListenerSettings& settings)
    : loop_(loop),
      fd_(std::move(fd)),
      settings_(settings),
      commands_(*settings.info, settings.level) {
  if (settings_.counters) {
    settings_.counters->current.fetch_add(1, std::memory_order_relaxed);
    settings_.counters->total.fetch_add(1, std::memory_order_relaxed);
  }
}

Session::~Session() {
  if (settings_.counters) settings_.counters->current.fetch_sub(1, std::memory_order_relaxed);
}

void Session::on_events(std::uint32_t events) {
  if (ended_) return;
  if (events & EPOLLERR) return end();
  bool activity = false;
  if (!read_closed_ && !commands_.done()) {
    char buffer[4096];
    while (true) {
      const ssize_t n = recv(fd_.get(), buffer, sizeof buffer, 0);
      if (n > 0) {
        input_.append(buffer, static_cast<std::size_t>(n));
        activity = true;
        if (static_cast<std::size_t>(n) < sizeof buffer) break;  // drained
        continue;
      }
      if (n == 0)
        read_closed_ = true;
      else if (errno != EAGAIN && errno != EINTR)
        return end();
      break;
    }
    const std::size_t used = commands_.feed(input_, output_, read_closed_);
    input_.erase(0, used);
    if (input_.size() > kMaxInput) return end();
  }
  if (!flush()) return end();
  if (sent_ == output_.size() && (commands_.done() || read_closed_)) return end();
  if (activity && settings_.timeout_ms > 0) loop_.arm(*this, settings_.timeout_ms);
}

bool Session::flush() {
  while (sent_ < output_.size()) {
    const ssize_t n = send(fd_.get(), output_.data() + sent_, output_.size() - sent_, MSG_NOSIGNAL);
    if (n < 0) return errno == EAGAIN || errno == EINTR;
    sent_ += static_cast<std::size_t>(n);
  }
  output_.clear();
  sent_ = 0;
  return true;
}

void Session::on_timer() {
  end();
}

void Session::end() {
  if (ended_) return;
  ended_ = true;
  loop_.cancel(*this);
  fd_.reset();
  loop_.retire(*this);
}

}  // namespace sluice::api
