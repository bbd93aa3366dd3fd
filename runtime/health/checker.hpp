// Health checks (`server … check`): a TCP connect to each checked server, every `inter`
// (`fastinter` on the way between states, `downinter` when down), within `timeout check`
// (else `inter`). Run on one loop of the worker, never blocking it; each result moves
// the server's HealthCounter, and a change marks the server up or down for the balancers
// and is logged in HAProxy's words, on stderr and to the backend's log targets.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "runtime/health/health_counter.hpp"
#include "runtime/health/http_check.hpp"
#include "runtime/io/loop.hpp"
#include "runtime/io/socket.hpp"
#include "runtime/log/logger.hpp"
#include "runtime/proxy/backend_state.hpp"
#include "runtime/tls/client_context.hpp"

namespace sluice::health {

class Checker;

class ServerCheck final : public io::Pollable, private io::Timer {
 public:
  // `http`: the backend's HTTP check; nullptr for a TCP connect check, or with
  // `tls_hello` the TLS ClientHello check.
  // `tls`: the context its checks speak TLS with (check-ssl, or an `ssl` server's own
  // address); nullptr: in clear.
  ServerCheck(Checker& checker, proxy::BackendState& backend, std::uint32_t server,
              io::SocketAddress address, const HttpCheck* http, bool tls_hello,
              const tls::ClientContext* tls);
  ~ServerCheck() override;
  ServerCheck(const ServerCheck&) = delete;
  ServerCheck& operator=(const ServerCheck&) = delete;

  // The first check, `delay_ms` from now (spread over the interval).
  void start(std::int64_t delay_ms);
  void on_events(std::uint32_t events) override;

 private:
  void on_timer() override;
  void probe();
  // Connected: a TCP check has passed; an HTTP or TLS-hello one sends its request.
  void connected();
  // The TLS handshake's next step; then the check goes on as over a plain connection.
  void handshake();
  void send_request();
  // The response so far: judged once it says enough.
  void read_response(bool hangup);
  // `reason`/`info` in HAProxy's words ("Layer4 connection problem", "Connection refused");
  // `code`: an HTTP status (0: none).
  void finish(bool passed, std::string_view reason, std::string_view info, int code = 0);

  Checker& checker_;
  proxy::BackendState& backend_;
  std::uint32_t server_;
  io::SocketAddress address_;
  HealthCounter health_;
  const HttpCheck* http_;
  bool tls_hello_;
  const tls::ClientContext* tls_;
  tls::Stream stream_;
  bool handshaking_ = false;
  io::Fd socket_;
  std::int64_t started_ms_ = 0;
  bool awaiting_response_ = false;
  std::string response_;  // bounded by kResponseLimit
};

class Checker {
 public:
  // The checks of every `check` server of `backends`, run on `loop`. `loggers` by backend
  // index (nullptr: no log target). Throws rules::CompileError for an HTTP check it
  // cannot run.
  Checker(io::Loop& loop, const std::vector<proxy::BackendState*>& backends,
          std::vector<std::optional<log::Logger>> loggers,
          const std::vector<std::vector<const tls::ClientContext*>>& tls, int spread_percent = 0);
  ~Checker();
  void start();
  bool empty() const { return checks_.empty(); }

 private:
  friend class ServerCheck;
  // A server went up or down: HAProxy's lines.
  void report(proxy::BackendState& backend, std::uint32_t server, bool up, std::string_view reason,
              std::string_view info, int code, std::int64_t duration_ms);
  // `option log-health-checks`: a check whose result moved the server's health.
  void report_check(const proxy::BackendState& backend, std::uint32_t server, bool passed,
                    std::string_view reason, std::string_view info, int code,
                    std::int64_t duration_ms, const HealthCounter& health);
  void emit(const proxy::BackendState& backend, log::Severity severity, std::string_view line,
            const char* stderr_tag);

  io::Loop& loop_;
  std::vector<std::unique_ptr<ServerCheck>> checks_;
  std::vector<std::optional<log::Logger>> loggers_;
  std::vector<std::unique_ptr<HttpCheck>> http_checks_;  // by backend; nullptr: TCP checks
  int spread_percent_ = 0;                               // `spread-checks`
  std::uint64_t random_ = 0x9e3779b97f4a7c15;            // xorshift state for the spread
  // `interval` moved by up to +/- spread-checks percent, so that checks drift apart.
  std::int64_t spread(std::int64_t interval);
};

}  // namespace sluice::health
