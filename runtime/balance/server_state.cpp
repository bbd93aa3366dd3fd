#include "runtime/balance/server_state.hpp"

#include <cassert>

namespace sluice::balance {

namespace {

constexpr std::uint64_t bit(std::size_t server) { return std::uint64_t{1} << (server % 64); }

}  // namespace

ServerStates::ServerStates(std::size_t count)
    : count_(count),
      words_((count + 63) / 64),
      servers_(std::make_unique<ServerState[]>(count)),
      down_(std::make_unique<std::atomic<std::uint64_t>[]>(words_)),
      sequence_(std::make_unique<Sequence>()) {
  // Declaration order is the initial leastconn order among idle servers, as in HAProxy.
  for (std::size_t i = 0; i < count_; ++i) servers_[i].changed.store(i, std::memory_order_relaxed);
  for (std::size_t w = 0; w < words_; ++w) down_[w].store(0, std::memory_order_relaxed);
  sequence_->next.store(count_, std::memory_order_relaxed);
}

ServerStates::ServerStates(const config::Backend& backend) : ServerStates(backend.servers.size()) {
  for (std::size_t i = 0; i < count_; ++i)
    if (backend.servers[i].disabled) set_up(i, false);
}

bool ServerStates::up(std::size_t server) const {
  assert(server < count_);
  return (down_[server / 64].load(std::memory_order_acquire) & bit(server)) == 0;
}

bool ServerStates::set_up(std::size_t server, bool up) {
  assert(server < count_);
  auto& word = down_[server / 64];
  const std::uint64_t before = up ? word.fetch_and(~bit(server), std::memory_order_acq_rel)
                                  : word.fetch_or(bit(server), std::memory_order_acq_rel);
  const bool was_up = (before & bit(server)) == 0;
  return was_up != up;
}

std::uint32_t ServerStates::connections(std::size_t server) const {
  return servers_[server].connections.load(std::memory_order_relaxed);
}

std::uint32_t ServerStates::queued(std::size_t server) const {
  return servers_[server].queued.load(std::memory_order_relaxed);
}

std::uint64_t ServerStates::changed(std::size_t server) const {
  return servers_[server].changed.load(std::memory_order_relaxed);
}

void ServerStates::touch(std::size_t server) {
  servers_[server].changed.store(sequence_->next.fetch_add(1, std::memory_order_relaxed),
                                 std::memory_order_relaxed);
}

void ServerStates::begin_connection(std::size_t server) {
  servers_[server].connections.fetch_add(1, std::memory_order_relaxed);
  touch(server);
}

void ServerStates::end_connection(std::size_t server) {
  [[maybe_unused]] const auto before =
      servers_[server].connections.fetch_sub(1, std::memory_order_relaxed);
  assert(before > 0);
  touch(server);
}

bool ServerStates::try_begin_connection(std::size_t server, std::uint32_t maxconn) {
  auto& state = servers_[server];
  if (maxconn == 0) {
    begin_connection(server);
    return true;
  }
  std::uint32_t current = state.connections.load(std::memory_order_relaxed);
  do {
    if (current >= maxconn || state.queued.load(std::memory_order_relaxed) > 0) return false;
  } while (!state.connections.compare_exchange_weak(current, current + 1,
                                                    std::memory_order_relaxed));
  touch(server);
  return true;
}

void ServerStates::enter_queue(std::size_t server) {
  servers_[server].queued.fetch_add(1, std::memory_order_relaxed);
  touch(server);
}

void ServerStates::leave_queue(std::size_t server) {
  [[maybe_unused]] const auto before =
      servers_[server].queued.fetch_sub(1, std::memory_order_relaxed);
  assert(before > 0);
  touch(server);
}

bool ServerStates::full(std::size_t server, std::uint32_t maxconn) const {
  return maxconn != 0 && (connections(server) >= maxconn || queued(server) > 0);
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
