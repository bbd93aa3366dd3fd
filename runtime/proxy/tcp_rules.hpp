// `tcp-request connection` and `tcp-request content` rules and a frontend's layer-4 routing,
// compiled once per worker: the first rule whose condition holds decides, none accepts, as
// HAProxy does. Content rules may be asked before all data is there (inspect-delay): they
// answer `undecided` while a condition could still change. Knows nothing of sockets.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "runtime/config/config.hpp"
#include "runtime/log/traffic_log.hpp"
#include "runtime/proxy/backend_state.hpp"
#include "runtime/proxy/server_options.hpp"
#include "runtime/rules/condition.hpp"

namespace sluice::proxy {

struct TcpRule {
  bool accept = true;
  std::optional<rules::CompiledCondition> condition;
};

enum class TcpVerdict : std::uint8_t { undecided, accept, reject };

// `final`: everything a fetch may read is there (inspect-delay over, buffer full, or no
// delay at all); otherwise a condition that may change leaves the verdict undecided.
TcpVerdict run_tcp_rules(std::span<const TcpRule> rules, rules::Facts& facts,
                         std::span<char> scratch, bool final);

// The rules of `rules` at one layer (content_layer: `tcp-request content`), compiled with
// `compiler`; throws rules::CompileError.
std::vector<TcpRule> compile_tcp_rules(const std::vector<config::TcpRule>& rules,
                                       bool content_layer, rules::Compiler& compiler);

// What the TCP relay needs once the backend is known.
struct TcpTimeouts {
  std::int64_t connect_ms = 0;  // 0: none
  std::int64_t idle_ms = 0;     // client/server/tunnel, whichever applies
  // Once a side has sent its FIN, the half-open relay waits this long instead
  // (`timeout client-fin` / `server-fin`; 0: idle_ms still applies).
  std::int64_t client_fin_ms = 0;
  std::int64_t server_fin_ms = 0;
  std::int64_t queue_ms = 0;  // waiting for a slot on a server at maxconn; 0: no limit
};

// An established tunnel's inactivity timeout (0: none). HAProxy: `timeout tunnel`
// supersedes client and server; without it, the shorter of the two ends an idle tunnel.
inline std::int64_t tunnel_idle_ms(std::int64_t client, std::int64_t server, std::int64_t tunnel) {
  if (tunnel > 0) return tunnel;
  return client == 0 ? server : server == 0 ? client : std::min(client, server);
}

// Once we have sent a side our FIN and wait for it to finish too (HAProxy: "to avoid keeping
// connections in FIN_WAIT state for too long"), that side's `timeout client-fin` /
// `server-fin` applies when shorter.
inline std::int64_t half_closed_ms(std::int64_t idle, bool client_shut, std::int64_t client_fin_ms,
                                   bool server_shut, std::int64_t server_fin_ms) {
  auto shorter = [&](std::int64_t fin) {
    if (fin > 0 && (idle == 0 || fin < idle)) idle = fin;
  };
  if (client_shut) shorter(client_fin_ms);
  if (server_shut) shorter(server_fin_ms);
  return idle;
}

// A backend as TCP connections use it.
struct TcpBackend {
  BackendState* state = nullptr;
  std::vector<TcpRule> content_rules;  // the backend's own `tcp-request content`
  std::vector<ServerOptions> servers;  // by server index
};

// A frontend's `use_backend ... if` in order, then its `default_backend`: the same choice
// in both modes, over the view of a backend each mode uses.
template <class Backend>
struct BackendRoutes {
  struct Route {
    Backend* backend = nullptr;
    std::optional<rules::CompiledCondition> condition;
  };
  std::vector<Route> routes;
  Backend* default_backend = nullptr;

  // `by_index(i)`: the backend at config index i. Throws rules::CompileError.
  template <class ByIndex>
  static BackendRoutes compile(const config::Frontend& frontend, ByIndex by_index,
                               rules::Compiler& compiler) {
    BackendRoutes out;
    for (const auto& use : frontend.use_backends) {
      Route r{by_index(use.backend), std::nullopt};
      if (use.condition) r.condition = compiler.condition(*use.condition, rules::Side::request);
      out.routes.push_back(std::move(r));
    }
    if (frontend.default_backend) out.default_backend = by_index(*frontend.default_backend);
    return out;
  }

  // The first route whose condition holds, else the default; nullptr: none.
  Backend* pick(rules::Facts& facts, std::span<char> scratch) const {
    for (const auto& r : routes)
      if (!r.condition || r.condition->matches(facts, scratch)) return r.backend;
    return default_backend;
  }
};

// One frontend's layer-4 decisions: connection rules at accept, content rules (after
// `tcp-request inspect-delay` when set), then its backend routes.
struct TcpRouting {
  const config::Frontend* frontend = nullptr;
  std::size_t frontend_index = 0;
  log::TrafficLog log_kind = log::TrafficLog::connect;
  std::vector<TcpRule> connection_rules;
  std::vector<TcpRule> content_rules;
  BackendRoutes<const TcpBackend> backends;
  std::int64_t inspect_delay_ms = 0;
  // Timeouts by backend index (this frontend's merged with each backend's).
  std::vector<TcpTimeouts> timeouts;

  // Whether connections wait for content before a backend is chosen.
  bool inspects() const { return inspect_delay_ms > 0 || !content_rules.empty(); }
};

}  // namespace sluice::proxy
