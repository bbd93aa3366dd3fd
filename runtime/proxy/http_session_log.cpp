// HttpSession's traffic log: what one exchange's `option httplog` / `tcplog` line says.
#include <algorithm>
#include <chrono>

#include "runtime/proxy/http_exchange.hpp"
#include "runtime/proxy/http_session.hpp"

namespace sluice::proxy {

// ---- traffic log ---------------------------------------------------------------------------

void HttpSession::terminated(char cause, char phase) {
  if (x_ == nullptr || x_->log.termination.cause != '-') return;
  x_->log.termination.cause = cause;
  x_->log.termination.phase = phase;
}

void HttpSession::capture_request_line() {
  // Views into client_in do not outlive forwarding: the line is copied for the log.
  const http::Message& request = x_->request;
  auto& log = x_->log;
  log.head = share_.loop().now_ms();
  const std::string_view method =
      request.method_token.empty() ? http::method_name(request.method) : request.method_token;
  const std::string_view version = client_->http2()                             ? "HTTP/2.0"
                                   : request.version == http::Version::http_1_0 ? "HTTP/1.0"
                                                                                : "HTTP/1.1";
  const std::string_view prefix = client_->uri_prefix();
  const std::size_t cap = log.line.size();
  const std::size_t m = std::min(method.size(), cap);
  const std::size_t p = std::min(prefix.size(), cap - m);
  const std::size_t t = std::min(request.target.size(), cap - m - p) + p;
  const std::size_t v = std::min(version.size(), cap - m - t);
  std::copy_n(method.data(), m, log.line.data());
  std::copy_n(prefix.data(), p, log.line.data() + m);
  std::copy_n(request.target.data(), t - p, log.line.data() + m + p);
  std::copy_n(version.data(), v, log.line.data() + m + t);
  log.method_length = static_cast<std::uint16_t>(m);
  log.target_length = static_cast<std::uint16_t>(t);
  log.version_length = static_cast<std::uint16_t>(v);
}

void HttpSession::log_exchange() {
  if (x_ == nullptr || logger_ == nullptr) return;
  auto& log = x_->log;
  const auto pending = static_cast<std::int64_t>(x_->client_out.size());
  if (log.start >= 0) {
    const std::int64_t now = share_.loop().now_ms();
    log::LogRecord r;
    r.client = client_address_;
    r.frontend_address = local_address_;
    r.accept_date = log.date;
    r.frontend = frontend_.config->name;
    r.frontend_tls = client_->tls() != nullptr;
    r.mode = config::Mode::http;
    if (backend_) {
      r.backend = backend_->state->config().name;
      r.backend_connections = backend_->state->connections();
      if (log.server != balance::no_server) {
        r.server = backend_->state->config().servers[log.server].name;
        r.server_connections = backend_->state->server_connections(log.server);
      }
    }
    auto span = [](std::int64_t from, std::int64_t to) {
      return from >= 0 && to >= 0 ? to - from : -1;
    };
    r.request_ms = span(log.start, log.head);
    r.queue_ms = log.queue_ms >= 0 ? log.queue_ms : (log.connect >= 0 ? 0 : -1);
    r.connect_ms = span(log.connect, log.connected);
    r.response_ms = span(log.connected, log.response);
    r.active_ms = span(log.start, now);
    r.total_ms = r.active_ms;
    r.status = log.status;
    r.bytes_to_client =
        static_cast<std::uint64_t>(std::max<std::int64_t>(0, log.bytes_out + pending));
    r.bytes_from_client = log.bytes_in;
    r.termination = log.termination;
    r.active_connections = slot_.process_connections();
    r.frontend_connections = slot_.frontend_connections();
    r.retries = log.retries;
    r.redispatched = log.retries > 0 && backend_ && backend_->state->config().redispatch;
    const std::string_view line(log.line.data(),
                                log.method_length + log.target_length + log.version_length);
    r.method = line.substr(0, log.method_length);
    r.target = line.substr(log.method_length, log.target_length);
    r.version = line.substr(log.method_length + log.target_length);
    if (!log::suppressed_by_dontlognull(*frontend_.config, r)) {
      const auto out = logger_->message_buffer();
      const std::size_t n = log::write_traffic_log(out, frontend_.log_kind, r);
      logger_->emit(log::traffic_severity, {out.data(), n}, log.date);
    }
  }
  log.reset(pending);
}

}  // namespace sluice::proxy
