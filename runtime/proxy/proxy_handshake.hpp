// `bind … accept-proxy`: a connection's PROXY protocol header, read before anything else
// (before TLS too) within `timeout client`. The addresses it gives replace the
// connection's own for everything after (rules, logs, X-Forwarded-For, send-proxy); a
// connection without a valid header is closed and HAProxy's line for it logged
// ("1.2.3.4:5678 [date] fe/1: Received something which does not look like a PROXY
// protocol header").
#pragma once

#include <chrono>
#include <cstdint>
#include <string_view>

#include "runtime/io/loop.hpp"
#include "runtime/log/logger.hpp"
#include "runtime/proxy/connection_slot.hpp"
#include "runtime/proxy/tcp_relay.hpp"

namespace sluice::proxy {

// Where a connection goes once its header is read (the acceptor's usual path).
class ConnectionSink {
 public:
  virtual void dispatch(AcceptedClient client, ConnectionSlot slot) = 0;

 protected:
  ~ConnectionSink() = default;
};

// What the handshakes before a session (PROXY header, TLS) share: their deadline and the
// frontend's log for HAProxy's line when one fails.
struct HandshakeSettings {
  std::int64_t timeout_ms = 0;  // `timeout client`; 0: none
  log::Logger* logger = nullptr;
  std::string_view frontend;
  std::string_view listener;  // the bind's name or position (the log's word)
};

// "1.2.3.4:5678 [date] fe/LISTENER: WHY" in the frontend's log, if it logs.
void log_handshake_failure(const HandshakeSettings& settings, const io::SocketAddress& client,
                           std::chrono::system_clock::time_point accepted, std::string_view why);

class ProxyHandshake final : public io::Owned, private io::Timer {
 public:
  // `settings` and `next` must outlive the connection's handshake (the worker's).
  static void start(io::Loop& loop, AcceptedClient client, ConnectionSlot slot,
                    ConnectionSink& next, const HandshakeSettings& settings);

  void on_events(std::uint32_t events) override;

 private:
  ProxyHandshake(io::Loop& loop, AcceptedClient client, ConnectionSlot slot, ConnectionSink& next,
                 const HandshakeSettings& settings);
  void on_timer() override;
  void fail(std::string_view why);
  void end();

  io::Loop& loop_;
  AcceptedClient client_;
  ConnectionSlot slot_;
  ConnectionSink& next_;
  const HandshakeSettings& settings_;
  std::chrono::system_clock::time_point accepted_;
  bool done_ = false;
};

}  // namespace sluice::proxy
