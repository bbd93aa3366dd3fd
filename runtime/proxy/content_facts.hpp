// What `tcp-request content` rules and layer-4 `use_backend` read once the client has sent
// its first bytes: the connection's addresses plus the payload fetches (`req.ssl_sni`,
// `req.ssl_hello_type`), which say "may change" while the ClientHello is incomplete.
#pragma once

#include <optional>
#include <span>

#include "runtime/proxy/connection_facts.hpp"
#include "runtime/tls/client_hello.hpp"

namespace sluice::proxy {

class ContentFacts : public ConnectionFacts {
 public:
  // `payload`: the client's bytes so far; `hello_scratch`: room to reassemble a ClientHello
  // split over records. Both must outlive the evaluation.
  ContentFacts(const io::SocketAddress& client, const io::SocketAddress& local,
               const ServerCount* usable_servers, std::span<const char> payload,
               std::span<char> hello_scratch, ClientTls tls = {})
      : ConnectionFacts(client, local, usable_servers, tls),
        payload_(payload),
        hello_scratch_(hello_scratch) {}

  rules::Value fetch(rules::FetchId id, std::span<const std::string_view> args) override;
  bool may_change(rules::FetchId id) override;

 private:
  tls::HelloParse hello();

  std::span<const char> payload_;
  std::span<char> hello_scratch_;
  std::optional<tls::HelloParse> parsed_;  // parsed once, on first use
  tls::ClientHello hello_;
};

}  // namespace sluice::proxy
