#include "runtime/proxy/tls_handshake.hpp"

namespace sluice::proxy {

void TlsHandshake::start(io::Loop& loop, AcceptedClient client, ConnectionSlot slot,
                         const tls::ServerContexts& contexts, SecuredSink& next,
                         const HandshakeSettings& settings) {
  tls::Stream stream = contexts.accept(client.fd.get());
  if (!stream) return;  // out of memory: the connection closes
  auto* h =
      new TlsHandshake(loop, std::move(client), std::move(slot), std::move(stream), next, settings);
  loop.adopt(*h);
  // The ClientHello usually comes after the accept: epoll says when (at once if it is in).
  if (!loop.add(h->client_.fd.get(), *h)) {
    h->end();
    return;
  }
  if (settings.timeout_ms > 0) loop.arm(*h, settings.timeout_ms);
}

TlsHandshake::TlsHandshake(io::Loop& loop, AcceptedClient client, ConnectionSlot slot,
                           tls::Stream stream, SecuredSink& next, const HandshakeSettings& settings)
    : loop_(loop),
      client_(std::move(client)),
      slot_(std::move(slot)),
      stream_(std::move(stream)),
      next_(next),
      settings_(settings),
      accepted_(std::chrono::system_clock::now()) {}

void TlsHandshake::on_events(std::uint32_t events) {
  if (done_) return;
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
    stream_.readable((events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0);
  step();
}

void TlsHandshake::step() {
  switch (stream_.handshake()) {
    case tls::Status::ok:
      done_ = true;
      loop_.cancel(*this);
      next_.secured(std::move(client_), std::move(slot_), std::move(stream_));
      loop_.retire(*this);
      return;
    case tls::Status::want_read:
    case tls::Status::want_write:
      return;  // the next event goes on
    case tls::Status::closed:
      fail("Connection closed during SSL handshake");
      return;
    case tls::Status::failed:
      fail(stream_.handshake_failure());
      return;
  }
}

void TlsHandshake::on_timer() {
  if (!done_) fail("Timeout during SSL handshake");
}

void TlsHandshake::fail(std::string_view why) {
  log_handshake_failure(settings_, client_.peer, accepted_, why);
  end();
}

void TlsHandshake::end() {
  done_ = true;
  loop_.cancel(*this);
  stream_ = tls::Stream();
  client_.fd.reset();
  loop_.retire(*this);
}

}  // namespace sluice::proxy
