// The listening sockets of a configuration's binds. A worker on its own opens them itself;
// under a master (-W) the master opens them before forking and keeps them by address across
// reloads, so that a socket the new configuration still binds is never closed: its accept
// queue survives the reload and no connection is refused.
#pragma once

#include <cstddef>
#include <set>
#include <string>
#include <vector>

#include "runtime/config/config.hpp"
#include "runtime/io/socket.hpp"

namespace sluice::worker {

// One address a bind (or a `stats socket`) listens on.
struct BindAddress {
  std::size_t frontend = 0;  // index in Config::frontends; unused for a stats socket
  const config::Bind* bind = nullptr;
  const config::StatsSocket* stats = nullptr;  // a stats socket's address
  io::ListenAddress address;
  io::ListenOptions options;
  // What identifies the socket across configurations: the address and its options.
  std::string key() const;
};

// Every address of every bind of `config`, in order, then those of its stats sockets; false
// with `error` naming the bind ("file:line: …") when one does not resolve.
bool bind_addresses(const config::Config& config, std::vector<BindAddress>& out,
                    std::string& error);

// "frontend 'www'" or "stats socket", for messages.
std::string listener_owner(const config::Config& config, const BindAddress& b);

class ListenerSet {
 public:
  // Opens the sockets of `binds` not open yet; false with `error` naming the bind.
  bool open(const config::Config& config, const std::vector<BindAddress>& binds,
            std::string& error);
  // The open socket of `bind`, or -1.
  int find(const BindAddress& bind) const;
  // Closes every socket whose key is not in `keep`.
  void retain(const std::set<std::string>& keep);

 private:
  struct Entry {
    std::string key;
    io::Fd fd;
  };
  std::vector<Entry> entries_;
};

}  // namespace sluice::worker
