#include "runtime/proxy/proxy_handshake.hpp"

#include <sys/socket.h>

#include <array>
#include <cerrno>

#include "runtime/log/traffic_log.hpp"
#include "runtime/proxy/proxy_protocol.hpp"

namespace sluice::proxy {

void ProxyHandshake::start(io::Loop& loop, AcceptedClient client, ConnectionSlot slot,
                           ConnectionSink& next, const HandshakeSettings& settings) {
  auto* h = new ProxyHandshake(loop, std::move(client), std::move(slot), next, settings);
  loop.adopt(*h);
  // Registering reports the bytes already in, if any: the first event reads them.
  if (!loop.add(h->client_.fd.get(), *h)) {
    h->end();
    return;
  }
  if (settings.timeout_ms > 0) loop.arm(*h, settings.timeout_ms);
}

ProxyHandshake::ProxyHandshake(io::Loop& loop, AcceptedClient client, ConnectionSlot slot,
                               ConnectionSink& next, const HandshakeSettings& settings)
    : loop_(loop),
      client_(std::move(client)),
      slot_(std::move(slot)),
      next_(next),
      settings_(settings),
      accepted_(std::chrono::system_clock::now()) {}

void ProxyHandshake::on_events(std::uint32_t events) {
  if (done_ || (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) == 0) return;
  // Peeked, then only the header taken: what follows is the next layer's (TLS, HTTP).
  std::array<char, kProxyHeaderMax> bytes;
  const ssize_t n = recv(client_.fd.get(), bytes.data(), bytes.size(), MSG_PEEK);
  if (n == 0) return fail("Connection closed while waiting for PROXY protocol header");
  if (n < 0) {
    if (errno == EAGAIN || errno == EINTR) return;
    return fail("Connection error while waiting for PROXY protocol header");
  }
  ProxyHeader header;
  switch (parse_proxy_header({bytes.data(), static_cast<std::size_t>(n)}, header)) {
    case ProxyParse::incomplete:
      // The rest comes with a new edge (the spec lets a receiver wait for it; HAProxy
      // 2.6 refuses a header split over segments).
      if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        fail("Connection closed while waiting for PROXY protocol header");
      return;
    case ProxyParse::invalid:
      return fail(header.error);
    case ProxyParse::done:
      break;
  }
  if (recv(client_.fd.get(), bytes.data(), header.size, 0) != static_cast<ssize_t>(header.size))
    return fail("Connection error while waiting for PROXY protocol header");
  if (header.has_addresses) {
    client_.peer = header.source;
    client_.local = header.destination;
  }
  done_ = true;
  loop_.cancel(*this);
  loop_.remove(client_.fd.get());  // the next owner registers it anew
  next_.dispatch(std::move(client_), std::move(slot_));
  loop_.retire(*this);
}

void ProxyHandshake::on_timer() {
  if (!done_) fail("Timeout while waiting for PROXY protocol header");
}

void log_handshake_failure(const HandshakeSettings& settings, const io::SocketAddress& client,
                           std::chrono::system_clock::time_point accepted, std::string_view why) {
  log::Logger* logger = settings.logger;
  if (logger == nullptr || logger->empty()) return;
  log::LogRecord r;
  r.client = client;
  r.accept_date = accepted;
  r.frontend = settings.frontend;
  const auto out = logger->message_buffer();
  logger->emit(log::traffic_severity,
               {out.data(), log::write_connection_error_log(out, r, settings.listener, why)},
               accepted);
}

void ProxyHandshake::fail(std::string_view why) {
  log_handshake_failure(settings_, client_.peer, accepted_, why);
  end();
}

void ProxyHandshake::end() {
  done_ = true;
  loop_.cancel(*this);
  client_.fd.reset();
  loop_.retire(*this);
}

}  // namespace sluice::proxy
