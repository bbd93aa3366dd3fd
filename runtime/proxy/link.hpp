// One end of a proxied connection (the client's or a server's): its socket, with TLS over
// it when the bind or the server line says `ssl`. Sessions read and write through it without
// knowing which; recv/send results are folded into what a session does next (Io).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "runtime/io/socket.hpp"
#include "runtime/tls/stream.hpp"

namespace sluice::proxy {

enum class Io : std::uint8_t { moved, blocked, closed, failed };
// One recv/send on a plain socket.
Io receive(int fd, std::span<char> into, std::size_t& n);
Io transmit(int fd, std::span<const char> from, std::size_t& n);

class Link {
 public:
  Link() = default;
  Link(io::Fd fd, tls::Stream tls) : fd_(std::move(fd)), tls_(std::move(tls)) {}

  int fd() const { return fd_.get(); }
  // nullptr on a plain connection.
  const tls::Stream* tls() const { return tls_ ? &tls_ : nullptr; }

  // `drained`: the next bytes come with a new epoll event (edge-triggered), so reading
  // again now would only say EAGAIN.
  Io receive(std::span<char> into, std::size_t& n, bool& drained);
  // `n` short of `from`: the socket is full until the next EPOLLOUT.
  Io transmit(std::span<const char> from, std::size_t& n);
  // Our FIN (after TLS's close_notify).
  void shutdown_write();
  // The events as the session's steps see them: under TLS, a read may wait for room to
  // write and a write for bytes to read.
  std::uint32_t translate(std::uint32_t events) const;
  // epoll reported input (or a hangup): the next read goes to the socket.
  void readable(bool hangup) {
    if (tls_) tls_.readable(hangup);
  }
  // The TLS handshake's next step (a TLS link only).
  tls::Status handshake() { return tls_.handshake(); }
  // The socket, for a Link that adds TLS over it.
  io::Fd release() { return std::move(fd_); }
  // Bytes already inside TLS that no epoll event will announce.
  bool pending() const { return tls_ && tls_.pending(); }
  void reset() {
    tls_ = tls::Stream();
    fd_.reset();
  }

 private:
  io::Fd fd_;
  tls::Stream tls_;
  bool read_waits_for_write_ = false;
  bool write_waits_for_read_ = false;
};

}  // namespace sluice::proxy
