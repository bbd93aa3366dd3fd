#include "runtime/worker/listeners.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace sluice::worker {

std::string BindAddress::key() const {
  return fmt::format("{}{}", address.to_string(), options.v6only ? " v6only" : "");
}

bool bind_addresses(const config::Config& config, std::vector<BindAddress>& out,
                    std::string& error) {
  for (std::size_t fi = 0; fi < config.frontends.size(); ++fi) {
    for (const auto& bind : config.frontends[fi].binds) {
      for (const auto& endpoint : bind.endpoints) {
        auto addresses = io::resolve(endpoint, error);
        if (addresses.empty()) {
          error = fmt::format("{}:{}: {}", *bind.origin.file, bind.origin.line, error);
          return false;
        }
        for (const auto& address : addresses) {
          BindAddress& b = out.emplace_back();
          b.frontend = fi;
          b.bind = &bind;
          b.address = address;
          b.options.v6only = bind.v6only;
          b.options.reuse_port = !config.global.noreuseport;
        }
      }
    }
  }
  return true;
}

bool ListenerSet::open(const config::Config& config, const std::vector<BindAddress>& binds,
                       std::string& error) {
  for (const auto& b : binds) {
    if (find(b) >= 0) continue;
    auto fd = io::listen_on(b.address, b.options, error);
    if (!fd) {
      error = fmt::format("{}:{}: frontend '{}': {}", *b.bind->origin.file, b.bind->origin.line,
                          config.frontends[b.frontend].name, error);
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
