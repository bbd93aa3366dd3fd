// A client's TLS handshake on a `bind … ssl`: driven as the socket allows, within
// `timeout client`; then the connection goes on (to its HTTP session or TCP relay) with
// its TLS stream. A failed handshake closes the connection and logs HAProxy's line for it
// ("1.2.3.4:5678 [date] fe/bind: SSL handshake failure").
#pragma once

#include <chrono>
#include <string_view>

#include "runtime/io/loop.hpp"
#include "runtime/proxy/connection_slot.hpp"
#include "runtime/proxy/proxy_handshake.hpp"
#include "runtime/tls/server_contexts.hpp"

namespace sluice::proxy {

// Where a connection goes once its handshake is done (the acceptor's usual path).
class SecuredSink {
 public:
  // The socket is registered with the loop already (modify, not add).
  virtual void secured(AcceptedClient client, ConnectionSlot slot, tls::Stream stream) = 0;

 protected:
  ~SecuredSink() = default;
};

class TlsHandshake final : public io::Owned, private io::Timer {
 public:
  // `settings` and `next` must outlive the handshake (the acceptor's).
  static void start(io::Loop& loop, AcceptedClient client, ConnectionSlot slot,
                    const tls::ServerContexts& contexts, SecuredSink& next,
                    const HandshakeSettings& settings);

  void on_events(std::uint32_t events) override;

 private:
  TlsHandshake(io::Loop& loop, AcceptedClient client, ConnectionSlot slot, tls::Stream stream,
               SecuredSink& next, const HandshakeSettings& settings);
  void on_timer() override;
  void step();
  void fail(std::string_view why);
  void end();

  io::Loop& loop_;
  AcceptedClient client_;
  ConnectionSlot slot_;
  tls::Stream stream_;
  SecuredSink& next_;
  const HandshakeSettings& settings_;
  std::chrono::system_clock::time_point accepted_;
  bool done_ = false;
};

}  // namespace sluice::proxy
