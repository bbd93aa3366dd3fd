#include "runtime/proxy/tls_handshake.hpp"

#include "runtime/log/traffic_log.hpp"

namespace sluice::proxy {

void TlsHandshake::start(HttpLoopShare& share, AcceptedClient client, ConnectionSlot slot,
                         const HttpFrontend& frontend, const tls::ServerContexts& contexts,
                         std::string_view listener) {
  tls::Stream stream = contexts.accept(client.fd.get());
  if (!stream) return;  // out of memory: the connection closes
  auto* h = new TlsHandshake(share, std::move(client), std::move(slot), frontend, std::move(stream),
                             listener);
  share.loop().adopt(*h);
  // The ClientHello usually comes after the accept: epoll says when (at once if it is in).
  if (!share.loop().add(h->client_.fd.get(), *h)) {
    h->end();
    return;
  }
  if (frontend.client_ms > 0) share.loop().arm(*h, frontend.client_ms);
}

TlsHandshake::TlsHandshake(HttpLoopShare& share, AcceptedClient client, ConnectionSlot slot,
                           const HttpFrontend& frontend, tls::Stream stream,
                           std::string_view listener)
    : share_(share),
      client_(std::move(client)),
      slot_(std::move(slot)),
      frontend_(frontend),
      stream_(std::move(stream)),
      listener_(listener),
      accepted_(std::chrono::system_clock::now()) {}

void TlsHandshake::on_events(std::uint32_t events) {
  if (done_) return;
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
    stream_.readable((events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0);
  step();
}

void TlsHandshake::step() {
  switch (stream_.handshake()) {
    case tls::Status::ok: {
      done_ = true;
      share_.loop().cancel(*this);
      HttpSession::start(share_, std::move(client_), std::move(slot_), frontend_,
                         std::move(stream_));
      share_.loop().retire(*this);
      return;
    }
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
  if (log::Logger* logger = share_.logger(frontend_.index)) {
    if (!logger->empty()) {
      log::LogRecord r;
      r.client = client_.peer;
      r.accept_date = accepted_;
      r.frontend = frontend_.config->name;
      const auto out = logger->message_buffer();
      logger->emit(log::traffic_severity,
                   {out.data(), log::write_connection_error_log(out, r, listener_, why)},
                   accepted_);
    }
  }
  end();
}

void TlsHandshake::end() {
  done_ = true;
  share_.loop().cancel(*this);
  stream_ = tls::Stream();
  client_.fd.reset();
  share_.loop().retire(*this);
}

}  // namespace sluice::proxy
