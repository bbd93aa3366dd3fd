#include "runtime/balance/server_state.hpp"

#include <cassert>

namespace sluice::balance {

ServerStates::ServerStates(std::size_t count, bool leastconn_order)
    : count_(count),
      words_((count + 63) / 64),
      servers_(std::make_unique<ServerState[]>(count)),
      down_(std::make_unique<std::atomic<std::uint64_t>[]>(words_)) {
  // Declaration order is the initial leastconn order among idle servers, as in HAProxy.
  for (std::size_t i = 0; i < count_; ++i)
    servers_[i].changed.store(i, std::memory_order_relaxed);
  for (std::size_t w = 0; w < words_; ++w)
    down_[w].store(0, std::memory_order_relaxed);
  if (leastconn_order) {
    sequence_ = std::make_unique<Sequence>();
    sequence_->next.store(count_, std::memory_order_relaxed);
  }
}

ServerStates::ServerStates(const config::Backend& backend)
    : ServerStates(backend.servers.size(), backend.balance == config::Balance::leastconn) {
  for (std::size_t i = 0; i < count_; ++i)
    if (backend.servers[i].disabled) set_up(i, false);
}

bool ServerStates::set_up(std::size_t server, bool up) {
  assert(server < count_);
  auto& word = down_[server / 64];
  const std::uint64_t before = up ? word.fetch_and(~bit(server), std::memory_order_acq_rel)
                                  : word.fetch_or(bit(server), std::memory_order_acq_rel);
  const bool was_up = (before & bit(server)) == 0;
  return was_up != up;
}

bool ServerStates::try_begin_limited(std::size_t server, std::uint32_t maxconn) {
  auto& state = servers_[server];
  std::uint32_t current = state.connections.load(std::memory_order_relaxed);
  do {
    if (current >= maxconn || state.queued.load(std::memory_order_relaxed) > 0) return false;
  } while (
      !state.connections.compare_exchange_weak(current, current + 1, std::memory_order_relaxed));
  touch(server);
  return true;
}

bool ServerStates::try_begin_queued(std::size_t server, std::uint32_t maxconn) {
  auto& state = servers_[server];
  std::uint32_t current = state.connections.load(std::memory_order_relaxed);
  do {
    if (maxconn != 0 && current >= maxconn) return false;
  } while (
      !state.connections.compare_exchange_weak(current, current + 1, std::memory_order_relaxed));
  touch(server);
  return true;
}

bool ServerStates::any_down(std::span<const std::uint64_t> members) const {
  assert(members.size() == words_);
  for (std::size_t w = 0; w < words_; ++w)
    if ((members[w] & down_[w].load(std::memory_order_acquire)) != 0) return true;
  return false;
}

bool ServerStates::any_up(std::span<const std::uint64_t> members) const {
  assert(members.size() == words_);
  for (std::size_t w = 0; w < words_; ++w)
    if ((members[w] & ~down_[w].load(std::memory_order_acquire)) != 0) return true;
  return false;
}

}  // namespace sluice::balance
