// A client's TLS handshake on a `bind … ssl` of a mode http frontend: driven as the socket
// allows, within `timeout client`; then the connection goes to its HTTP session. A failed
// handshake closes the connection and logs HAProxy's line for it
// ("1.2.3.4:5678 [date] fe/bind: SSL handshake failure").
#pragma once

#include <chrono>
#include <string_view>

#include "runtime/io/loop.hpp"
#include "runtime/proxy/connection_slot.hpp"
#include "runtime/proxy/http_session.hpp"
#include "runtime/tls/server_contexts.hpp"

namespace sluice::proxy {

class TlsHandshake final : public io::Owned, private io::Timer {
 public:
  // `listener`: the bind's `name`, else its position in the frontend (the log's word).
  static void start(HttpLoopShare& share, AcceptedClient client, ConnectionSlot slot,
                    const HttpFrontend& frontend, const tls::ServerContexts& contexts,
                    std::string_view listener);

  void on_events(std::uint32_t events) override;

 private:
  TlsHandshake(HttpLoopShare& share, AcceptedClient client, ConnectionSlot slot,
               const HttpFrontend& frontend, tls::Stream stream, std::string_view listener);
  void on_timer() override;
  void step();
  void fail(std::string_view why);
  void end();

  HttpLoopShare& share_;
  AcceptedClient client_;
  ConnectionSlot slot_;
  const HttpFrontend& frontend_;
  tls::Stream stream_;
  std::string_view listener_;
  std::chrono::system_clock::time_point accepted_;
  bool done_ = false;
};

}  // namespace sluice::proxy
