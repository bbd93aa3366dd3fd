#include "runtime/worker/listeners.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace sluice::worker {

std::string BindAddress::key() const {
  std::string key = address.to_string();
  if (options.v6only) key += " v6only";
  // A UNIX socket's file settings are the socket's: changed, it is a new socket.
  if (options.unix_mode >= 0) key += fmt::format(" mode {:o}", options.unix_mode);
  if (options.uid >= 0) key += fmt::format(" uid {}", options.uid);
  if (options.gid >= 0) key += fmt::format(" gid {}", options.gid);
  return key;
}

namespace {

bool add_addresses(const config::Config& config, const config::Bind& bind, std::size_t frontend,
                   const config::StatsSocket* stats, std::vector<BindAddress>& out,
                   std::string& error) {
  for (const auto& endpoint : bind.endpoints) {
    auto addresses = io::resolve_listen(endpoint, error);
    if (addresses.empty()) {
      error = fmt::format("{}:{}: {}", *bind.origin.file, bind.origin.line, error);
      return false;
    }
    for (auto& address : addresses) {
      BindAddress& b = out.emplace_back();
      b.frontend = frontend;
      b.bind = &bind;
      b.stats = stats;
      b.address = std::move(address);
      b.options.v6only = bind.v6only;
      b.options.reuse_port = !config.global.noreuseport;
      b.options.unix_mode = bind.unix_mode;
      b.options.uid = bind.uid;
      b.options.gid = bind.gid;
    }
  }
  return true;
}

}  // namespace

bool bind_addresses(const config::Config& config, std::vector<BindAddress>& out,
                    std::string& error) {
  for (std::size_t fi = 0; fi < config.frontends.size(); ++fi)
    for (const auto& bind : config.frontends[fi].binds)
      if (!add_addresses(config, bind, fi, nullptr, out, error)) return false;
  for (const auto& stats : config.global.stats_sockets)
    if (!add_addresses(config, stats.bind, 0, &stats, out, error)) return false;
  return true;
}

std::string listener_owner(const config::Config& config, const BindAddress& b) {
  return b.stats ? std::string("stats socket")
                 : fmt::format("frontend '{}'", config.frontends[b.frontend].name);
}

bool ListenerSet::open(const config::Config& config, const std::vector<BindAddress>& binds,
                       std::string& error) {
  for (const auto& b : binds) {
    if (find(b) >= 0) continue;
    auto fd = io::listen_on(b.address, b.options, error);
    if (!fd) {
      error = fmt::format("{}:{}: {}: {}", *b.bind->origin.file, b.bind->origin.line,
                          listener_owner(config, b), error);
      return false;
    }
    entries_.push_back({b.key(), std::move(*fd)});
  }
  return true;
}

int ListenerSet::find(const BindAddress& bind) const {
  const std::string key = bind.key();
  for (const auto& e : entries_)
    if (e.key == key) return e.fd.get();
  return -1;
}

void ListenerSet::retain(const std::set<std::string>& keep) {
  std::erase_if(entries_, [&](const Entry& e) { return !keep.contains(e.key); });
}

}  // namespace sluice::worker
