#include "runtime/proxy/server_options.hpp"

#include <fmt/format.h>

#include <chrono>

#include "runtime/log/traffic_log.hpp"

namespace sluice::proxy {

void log_server_tls_failure(log::Logger* logger, const io::SocketAddress& client,
                            std::string_view frontend, std::string_view backend,
                            std::string_view server, std::string_view why,
                            bool certificate_rejected) {
  if (logger == nullptr || logger->empty()) return;
  log::LogRecord r;
  r.client = client;
  r.accept_date = std::chrono::system_clock::now();
  r.frontend = frontend;
  r.backend = backend;
  r.server = server;
  char message[320];
  const auto text = fmt::format_to_n(
      message, sizeof message, "{}: {}",
      certificate_rejected ? "server certificate rejected" : "SSL handshake with the server failed",
      why);
  const auto out = logger->message_buffer();
  logger->emit(log::traffic_severity,
               {out.data(), log::write_server_error_log(out, r, {message, text.size})},
               r.accept_date);
}

}  // namespace sluice::proxy
