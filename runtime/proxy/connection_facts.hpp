// What rules can read about a connection before any protocol: the addresses (src, dst and
// their ports), nbsrv() and the constants. HTTP and TLS facts come with their layers.
#pragma once

#include <functional>
#include <span>
#include <string_view>

#include "runtime/io/socket.hpp"
#include "runtime/rules/facts.hpp"

namespace sluice::proxy {

rules::IpAddress ip_of(const io::SocketAddress& address);

class ConnectionFacts : public rules::Facts {
 public:
  // `usable_servers(name)`: nbsrv() of a backend by name (empty: the current one), or -1
  // when there is no such backend.
  using ServerCount = std::function<int(std::string_view backend)>;

  ConnectionFacts(const io::SocketAddress& client, const io::SocketAddress& local,
                  const ServerCount* usable_servers)
      : client_(client), local_(local), usable_servers_(usable_servers) {}

  rules::Value fetch(rules::FetchId id, std::span<const std::string_view> args) override;
  std::optional<std::size_t> header_count(rules::Message) override { return std::nullopt; }
  rules::HeaderField header(rules::Message, std::size_t) override { return {}; }

 private:
  const io::SocketAddress& client_;
  const io::SocketAddress& local_;
  const ServerCount* usable_servers_;
};

}  // namespace sluice::proxy
