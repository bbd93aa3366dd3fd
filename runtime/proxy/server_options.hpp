// What a server line asks of each connection to it beyond the TCP connect, in either mode:
// TLS (`ssl`, with its context and SNI expression) and a PROXY header (`send-proxy[-v2]`).
#pragma once

#include <cstdint>
#include <string_view>

#include "runtime/io/socket.hpp"
#include "runtime/log/logger.hpp"
#include "runtime/rules/format.hpp"
#include "runtime/tls/client_context.hpp"

namespace sluice::proxy {

struct ServerOptions {
  const tls::ClientContext* tls = nullptr;  // `ssl`; nullptr: plain TCP
  // `sni EXPR`, shared by the servers that write the same expression; nullptr: no SNI.
  const rules::CompiledFormat* sni = nullptr;
  std::uint8_t send_proxy = 0;  // PROXY protocol version to send first; 0: none
};

// sluice's line for what HAProxy only shows as a 503 or an SC: why the server's TLS
// failed ("fe be/srv: server certificate rejected: hostname mismatch").
void log_server_tls_failure(log::Logger* logger, const io::SocketAddress& client,
                            std::string_view frontend, std::string_view backend,
                            std::string_view server, std::string_view why,
                            bool certificate_rejected);

}  // namespace sluice::proxy
