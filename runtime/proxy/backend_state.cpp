#include "runtime/proxy/backend_state.hpp"

#include <fmt/format.h>
#include <charconv>

namespace sluice::proxy {

std::unique_ptr<BackendState> BackendState::build(const config::Backend& backend,
                                                  std::string& error) {
  auto state = std::make_unique<BackendState>();
  state->config_ = &backend;
  for (const auto& server : backend.servers) {
    config::Endpoint endpoint = server.endpoint;
    if (!endpoint.has_port || endpoint.port_offset) endpoint.port = endpoint.last_port = 0;
    auto addresses = io::resolve(endpoint, error);
    if (addresses.empty()) {
      error = fmt::format("server '{}/{}': {}", backend.name, server.name, error);
      return nullptr;
    }
    state->addresses_.push_back(addresses.front());
  }
  balance::SelectorOptions options;
  if (!backend.hash_type.empty())
    options.hash = balance::parse_hash_type(backend.hash_type).value_or(balance::HashType{});
  if (backend.balance == config::Balance::random && !backend.balance_args.empty()) {
    const auto& draws = backend.balance_args.front();
    std::from_chars(draws.data(), draws.data() + draws.size(), options.random_draws);
  }
  state->states_ = std::make_unique<balance::ServerStates>(backend);
  state->selector_ = std::make_unique<balance::Selector>(backend, *state->states_, options);
  return state;
}

int BackendState::usable_servers() const {
  int n = 0;
  for (std::size_t i = 0; i < config_->servers.size(); ++i)
    if (config_->servers[i].weight > 0 && states_->up(i)) ++n;
  return n;
}

std::optional<ServerTarget> BackendState::pick(const balance::Request& request) {
  const balance::Pick pick = selector_->pick(request);
  // Queueing at maxconn comes with server maxconn; until then a full server is no server.
  if (pick.outcome != balance::Outcome::picked) return std::nullopt;
  return ServerTarget{pick.server, addresses_[pick.server]};
}

}  // namespace sluice::proxy
