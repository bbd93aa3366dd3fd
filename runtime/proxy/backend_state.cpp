#include "runtime/proxy/backend_state.hpp"

#include <fmt/format.h>

namespace sluice::proxy {

std::unique_ptr<BackendState> BackendState::build(const config::Backend& backend,
                                                  std::string& error) {
  auto state = std::make_unique<BackendState>();
  state->config_ = &backend;
  for (const auto& server : backend.servers) {
    auto runtime = std::make_unique<ServerRuntime>();
    runtime->config = &server;
    config::Endpoint endpoint = server.endpoint;
    if (!endpoint.has_port || endpoint.port_offset) {
      runtime->port_from_client = true;
      endpoint.port = endpoint.last_port = 0;
    }
    auto addresses = io::resolve(endpoint, error);
    if (addresses.empty()) {
      error = fmt::format("server '{}/{}': {}", backend.name, server.name, error);
      return nullptr;
    }
    runtime->address = addresses.front();
    runtime->up.store(!server.disabled, std::memory_order_relaxed);
    state->servers_.push_back(std::move(runtime));
  }
  return state;
}

ServerRuntime* BackendState::pick(const ServerRuntime* avoid) {
  // Placeholder rotation over usable primaries, then backups, until runtime/balance
  // brings HAProxy's algorithms and rotation order.
  const std::size_t n = servers_.size();
  if (n == 0) return nullptr;
  for (bool backup : {false, true}) {
    const std::uint64_t start = cursor_.fetch_add(1, std::memory_order_relaxed);
    for (std::size_t i = 0; i < n; ++i) {
      ServerRuntime* s = servers_[(start + i) % n].get();
      if (s == avoid || s->config->backup != backup || s->config->weight == 0) continue;
      if (!s->up.load(std::memory_order_relaxed)) continue;
      return s;
    }
  }
  return nullptr;
}

}  // namespace sluice::proxy
