// A backend as the serving threads see it: its servers' resolved addresses and the
// mutable per-server state (up/down, connection counts) beside the immutable config.
// Server choice goes through here so that every caller counts connections the same way.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "runtime/config/config.hpp"
#include "runtime/io/socket.hpp"

namespace sluice::proxy {

struct ServerRuntime {
  const config::Server* config = nullptr;
  io::SocketAddress address;  // port 0 with has_port=false: use the client's port
  bool port_from_client = false;
  std::atomic<bool> up{true};
  std::atomic<int> connections{0};
};

class BackendState {
 public:
  // Resolves every server address; nullptr with `error` set when one cannot be.
  static std::unique_ptr<BackendState> build(const config::Backend& backend, std::string& error);

  const config::Backend& config() const { return *config_; }
  // A server for a new connection, or nullptr when none is usable (the caller answers 503
  // or closes). `avoid` skips a server that just refused (retries with redispatch).
  ServerRuntime* pick(const ServerRuntime* avoid = nullptr);
  std::size_t size() const { return servers_.size(); }

 private:
  const config::Backend* config_ = nullptr;
  std::vector<std::unique_ptr<ServerRuntime>> servers_;
  std::atomic<std::uint64_t> cursor_{0};
};

}  // namespace sluice::proxy
