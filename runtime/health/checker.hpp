// Health checks (`server … check`): each checked server runs its backend's CheckScript (a
// TCP connect, an HTTP or TLS-hello exchange, or a tcp-check script) every `inter`
// (`fastinter` on the way between states, `downinter` when down), within `timeout check`
// (else `inter`). Run on one loop of the worker, never blocking it; each result moves the
// server's HealthCounter, and a change marks the server up or down for the balancers and is
// logged in HAProxy's words, on stderr and to the backend's log targets.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/health/check_script.hpp"
#include "runtime/health/health_counter.hpp"
#include "runtime/io/loop.hpp"
#include "runtime/io/socket.hpp"
#include "runtime/log/logger.hpp"
#include "runtime/proxy/backend_state.hpp"
#include "runtime/tls/client_context.hpp"

namespace sluice::health {

class Checker;

class ServerCheck final : public io::Pollable, private io::Timer {
 public:
  // `address`: where the server is checked (its address, or `addr`/`port`). `tls`: the
  // context TLS steps use (nullptr when none may); `server_tls`: its checks speak TLS by
  // default (checks_over_tls).
  ServerCheck(Checker& checker, proxy::BackendState& backend, std::uint32_t server,
              io::SocketAddress address, const CheckScript& script, const tls::ClientContext* tls,
              bool server_tls, bool starts_down);
  ~ServerCheck() override;
  ServerCheck(const ServerCheck&) = delete;
  ServerCheck& operator=(const ServerCheck&) = delete;

  // The first check, `delay_ms` from now (spread over the interval).
  void start(std::int64_t delay_ms);
  void on_events(std::uint32_t events) override;

 private:
  enum class Phase : std::uint8_t { idle, connecting, handshaking, expecting };

  void on_timer() override;
  // The steps from step_ on, until one waits for the network or the check ends.
  void run();
  void open(const Step& step);
  // TCP is up: the TLS handshake, else the connection is ready.
  void connected();
  void handshake();
  void established();
  bool send(const Step& step);
  // Reads what came and judges it; true when the step passed (the check goes on).
  // `hangup`: the event that woke it says the peer closed (read to the end).
  bool expect(const Step& step, bool hangup);
  void close_connection();
  // The current step failed: `error` is a strerror, "SSL handshake failure", or empty.
  void fail(Status status, std::string_view error);
  void finish(const Verdict& verdict);

  Checker& checker_;
  proxy::BackendState& backend_;
  std::uint32_t server_;
  const CheckScript& script_;
  std::vector<io::SocketAddress> addresses_;  // by step: where its connect goes
  HealthCounter health_;
  const tls::ClientContext* tls_;
  bool server_tls_;
  Phase phase_ = Phase::idle;
  std::size_t step_ = 0;
  bool linger_ = false;  // the connection closes with a FIN (`connect linger`)
  bool tls_now_ = false;
  tls::Stream stream_;
  io::Fd socket_;
  std::int64_t started_ms_ = 0;
  std::optional<Verdict> last_;  // of the last expect that passed
  std::string response_;         // bounded by kResponseLimit
};

// What identifies a server's health across reloads: its backend, name and address (a
// server given another address starts afresh).
std::string state_key(const proxy::BackendState& backend, std::uint32_t server);

class Checker {
 public:
  // Told each change of a server's state (state_key(), up) — the master keeps them.
  using StateSink = std::function<void(const std::string& key, bool up)>;

  // The checks of every `check` server of `backends`, run on `loop`. `loggers` by backend
  // index (nullptr: no log target); `tls` by backend and server: the context of checks that
  // may speak TLS (may_check_over_tls). `down`: the state_key()s of servers a previous
  // worker saw DOWN, which start DOWN. Throws rules::CompileError for a check it cannot
  // run.
  Checker(io::Loop& loop, const std::vector<proxy::BackendState*>& backends,
          std::vector<std::optional<log::Logger>> loggers,
          const std::vector<std::vector<const tls::ClientContext*>>& tls, int spread_percent = 0,
          const std::set<std::string>* down = nullptr, StateSink on_change = {});
  ~Checker();
  void start();
  bool empty() const { return checks_.empty(); }

 private:
  friend class ServerCheck;
  // A server went up or down: HAProxy's lines.
  void report(proxy::BackendState& backend, std::uint32_t server, const Verdict& verdict,
              std::int64_t duration_ms);
  // `option log-health-checks`: a check whose result moved the server's health.
  void report_check(const proxy::BackendState& backend, std::uint32_t server,
                    const Verdict& verdict, std::int64_t duration_ms, const HealthCounter& health);
  void emit(const proxy::BackendState& backend, log::Severity severity, std::string_view line,
            const char* stderr_tag);

  io::Loop& loop_;
  std::vector<std::unique_ptr<ServerCheck>> checks_;
  std::vector<std::optional<log::Logger>> loggers_;
  StateSink on_change_;
  std::vector<std::unique_ptr<CheckScript>> scripts_;  // by backend
  int spread_percent_ = 0;                             // `spread-checks`
  std::uint64_t random_ = 0x9e3779b97f4a7c15;          // xorshift state for the spread
  // `interval` moved by up to +/- spread-checks percent, so that checks drift apart, then
  // rounded up to the next batch boundary.
  std::int64_t spread(std::int64_t interval);
  static constexpr std::int64_t kBatchMs = 10;
};

}  // namespace sluice::health
