// The client side of an HTTP session: where request bytes come from and response bytes go.
// An HTTP/1.1 connection is a socket (and TLS over it): LinkClient. An HTTP/2 stream will
// stand in for it, so that one session model, its rules and its server side serve both.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "runtime/proxy/link.hpp"
#include "runtime/tls/stream.hpp"

namespace sluice::proxy {

class ClientSide {
 public:
  virtual ~ClientSide() = default;
  // Request bytes; `drained`: the next ones come with a new event (on_events).
  virtual Io receive(std::span<char> into, std::size_t& n, bool& drained) = 0;
  // Response bytes; `n` short of `from`: no room until an EPOLLOUT event.
  virtual Io transmit(std::span<const char> from, std::size_t& n) = 0;
  // The end of what the session says (a FIN, after TLS's close_notify).
  virtual void shutdown_write() = 0;
  // Request bytes already inside the transport that no event will announce.
  virtual bool pending() const = 0;
  // Request bytes not read yet, pending() or not (a syscall on a socket: not per event).
  virtual bool input_waiting() const = 0;
  // The events as the session's steps see them (under TLS a read may wait for room to
  // write and a write for bytes to read); notes input for the next receive().
  virtual std::uint32_t on_events(std::uint32_t events) = 0;
  // The client connection's TLS, for facts and logs; nullptr in clear.
  virtual const tls::Stream* tls() const = 0;
  // The session is done with it (a socket closes).
  virtual void detach() = 0;
  // After shutdown_write(), whether the session waits a moment for the client's own end
  // (a connection's FIN, so that unread request bytes cause no reset) before closing.
  virtual bool lingers() const { return true; }
  // The client speaks HTTP/2 (logs say "HTTP/2.0").
  virtual bool http2() const { return false; }
  // What the log puts before the path: HTTP/2's "https://authority", as HAProxy shows it.
  virtual std::string_view uri_prefix() const { return {}; }
};

// A client connection of its own: the socket, with TLS when the bind says `ssl`.
class LinkClient final : public ClientSide {
 public:
  LinkClient(io::Fd fd, tls::Stream tls) : link_(std::move(fd), std::move(tls)) {}
  int fd() const { return link_.fd(); }

  Io receive(std::span<char> into, std::size_t& n, bool& drained) override {
    return link_.receive(into, n, drained);
  }
  Io transmit(std::span<const char> from, std::size_t& n) override {
    return link_.transmit(from, n);
  }
  void shutdown_write() override { link_.shutdown_write(); }
  bool pending() const override { return link_.pending(); }
  bool input_waiting() const override;
  std::uint32_t on_events(std::uint32_t events) override;
  const tls::Stream* tls() const override { return link_.tls(); }
  void detach() override { link_.reset(); }

 private:
  Link link_;
};

}  // namespace sluice::proxy
