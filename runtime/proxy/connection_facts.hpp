// What rules can read about a connection before any application protocol: the addresses
// (src, dst and their ports), the client's TLS, nbsrv() and the constants. HTTP facts come
// with their layer.
#pragma once

#include <array>
#include <functional>
#include <span>
#include <string_view>

#include "runtime/io/socket.hpp"
#include "runtime/rules/facts.hpp"
#include "runtime/tls/stream.hpp"

namespace sluice::proxy {

rules::IpAddress ip_of(const io::SocketAddress& address);

// `bind`: the connection came to an `ssl` bind (ssl_fc holds before the handshake, as in
// HAProxy); `stream`: its TLS once the handshake is done.
struct ClientTls {
  bool bind = false;
  const tls::Stream* stream = nullptr;
};

class ConnectionFacts : public rules::Facts {
 public:
  // `usable_servers(name)`: nbsrv() of a backend by name (empty: the current one), or -1
  // when there is no such backend.
  using ServerCount = std::function<int(std::string_view backend)>;

  using Tls = ClientTls;

  ConnectionFacts(const io::SocketAddress& client, const io::SocketAddress& local,
                  const ServerCount* usable_servers, Tls tls = {})
      : client_(client), local_(local), usable_servers_(usable_servers), tls_(tls) {}

  rules::Value fetch(rules::FetchId id, std::span<const std::string_view> args) override;
  std::optional<std::size_t> header_count(rules::Message) override { return std::nullopt; }
  rules::HeaderField header(rules::Message, std::size_t) override { return {}; }

 private:
  rules::Value tls_text(std::string_view (tls::Stream::*fact)() const) const;
  rules::Value client_name(bool subject, std::span<const std::string_view> args);
  const io::SocketAddress& client_;
  const io::SocketAddress& local_;
  const ServerCount* usable_servers_;
  Tls tls_;
  // Distinguished names are formatted here; one each so that both fit in one expression.
  std::array<char, 512> subject_scratch_, issuer_scratch_;
};

}  // namespace sluice::proxy
