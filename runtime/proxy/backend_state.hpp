// A backend as the serving threads see it: its servers' resolved addresses, their mutable
// state (up/down, connection counts) and the selector of its `balance` algorithm, beside
// the immutable config. Every connection to a server is counted through here.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "runtime/balance/selector.hpp"
#include "runtime/balance/server_state.hpp"
#include "runtime/config/config.hpp"
#include "runtime/io/socket.hpp"

namespace sluice::proxy {

struct ServerTarget {
  std::uint32_t index = balance::no_server;  // in config::Backend::servers
  io::SocketAddress address;
};

class BackendState {
 public:
  // Resolves every server address; nullptr with `error` set when one cannot be.
  static std::unique_ptr<BackendState> build(const config::Backend& backend, std::string& error);

  const config::Backend& config() const { return *config_; }
  // A server for a new connection (counted until release()), or nullopt when none is usable:
  // the caller closes or answers 503. `avoid` is a server that just refused (redispatch).
  std::optional<ServerTarget> pick(const balance::Request& request);
  void release(std::uint32_t server) { states_->end_connection(server); }
  // nbsrv(): servers that can take traffic now (up, not disabled, weight above 0).
  int usable_servers() const;
  // `balance hdr(<name>)`: the field whose value the caller passes in Request::header.
  std::string_view balance_header() const { return selector_->header_name(); }

 private:
  const config::Backend* config_ = nullptr;
  std::vector<io::SocketAddress> addresses_;
  std::unique_ptr<balance::ServerStates> states_;
  std::unique_ptr<balance::Selector> selector_;
};

}  // namespace sluice::proxy
