#include "runtime/proxy/link.hpp"

#include <sys/ioctl.h>

#include "runtime/proxy/client_side.hpp"

#include <sys/epoll.h>
#include <sys/socket.h>

#include <cerrno>

namespace sluice::proxy {

Io receive(int fd, std::span<char> into, std::size_t& n) {
  const ssize_t r = recv(fd, into.data(), into.size(), 0);
  if (r > 0) {
    n = static_cast<std::size_t>(r);
    return Io::moved;
  }
  if (r == 0) return Io::closed;
  if (errno == EAGAIN || errno == EINTR) return Io::blocked;
  return Io::failed;
}

Io transmit(int fd, std::span<const char> from, std::size_t& n) {
  const ssize_t r = send(fd, from.data(), from.size(), MSG_NOSIGNAL);
  if (r >= 0) {
    n = static_cast<std::size_t>(r);
    return Io::moved;
  }
  if (errno == EAGAIN || errno == EINTR) return Io::blocked;
  return Io::failed;
}

Io Link::receive(std::span<char> into, std::size_t& n, bool& drained) {
  if (!tls_) {
    const Io r = proxy::receive(fd_.get(), into, n);
    drained = r == Io::moved && n < into.size();
    return r;
  }
  read_waits_for_write_ = false;
  const tls::Status s = tls_.read(into, n);
  drained = s == tls::Status::want_read || s == tls::Status::want_write;
  if (s == tls::Status::want_write) read_waits_for_write_ = true;
  if (n > 0) return Io::moved;
  switch (s) {
    case tls::Status::want_read:
    case tls::Status::want_write:
      return Io::blocked;
    case tls::Status::closed:
      return Io::closed;
    default:
      return Io::failed;
  }
}

Io Link::transmit(std::span<const char> from, std::size_t& n) {
  if (!tls_) return proxy::transmit(fd_.get(), from, n);
  write_waits_for_read_ = false;
  const tls::Status s = tls_.write(from, n);
  if (s == tls::Status::want_read) write_waits_for_read_ = true;
  if (s == tls::Status::ok || n > 0) return Io::moved;
  return s == tls::Status::want_read || s == tls::Status::want_write ? Io::blocked : Io::failed;
}

void Link::shutdown_write() {
  if (tls_) tls_.close_notify();
  shutdown(fd_.get(), SHUT_WR);
}

std::uint32_t Link::translate(std::uint32_t events) const {
  if (read_waits_for_write_ && (events & EPOLLOUT)) events |= EPOLLIN;
  if (write_waits_for_read_ && (events & EPOLLIN)) events |= EPOLLOUT;
  return events;
}

}  // namespace sluice::proxy

namespace sluice::proxy {

bool LinkClient::input_waiting() const {
  int bytes = 0;
  return link_.pending() || (ioctl(link_.fd(), FIONREAD, &bytes) == 0 && bytes > 0);
}

std::uint32_t LinkClient::on_events(std::uint32_t events) {
  events = link_.translate(events);
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
    link_.readable((events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0);
  return events;
}

}  // namespace sluice::proxy
