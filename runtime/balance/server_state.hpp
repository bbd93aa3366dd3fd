// Mutable per-server state of one backend, kept beside the immutable config: up/down, current
// connections and queued requests. Shared by every event loop through atomics only (no lock):
// health checks and the proxy write it, the selectors read it. Servers are referenced by their
// index in config::Backend::servers. Knows nothing of sockets, checks or balancing algorithms.
#pragma once

#include <atomic>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "runtime/config/config.hpp"

namespace sluice::balance {

// One server's counters, alone on a cache line: loops busy with different servers must not
// contend on the same line.
struct alignas(64) ServerState {
  std::atomic<std::uint32_t> connections{0};
  std::atomic<std::uint32_t> queued{0};
  // Backend-wide sequence number of the last change of `connections` or `queued`. leastconn
  // breaks ties on it because HAProxy keeps equally loaded servers in the order their load last
  // changed (least recently changed first).
  std::atomic<std::uint64_t> changed{0};
};

class ServerStates {
 public:
  // `count` servers, all up and idle. `leastconn_order` keeps the tie order leastconn needs,
  // at the price of one more shared atomic write per connection change; off, leastconn breaks
  // ties by declaration order.
  explicit ServerStates(std::size_t count, bool leastconn_order = true);
  // One state per server of `backend`, in declaration order; `disabled` servers start down.
  // The tie order is kept when the backend balances by leastconn.
  explicit ServerStates(const config::Backend& backend);

  std::size_t size() const { return count_; }

  bool up(std::size_t server) const {
    return (down_[server / 64].load(std::memory_order_acquire) & bit(server)) == 0;
  }
  // For health checks and administration; true when this call changed the state.
  bool set_up(std::size_t server, bool up);

  std::uint32_t connections(std::size_t server) const {
    return servers_[server].connections.load(std::memory_order_relaxed);
  }
  std::uint32_t queued(std::size_t server) const {
    return servers_[server].queued.load(std::memory_order_relaxed);
  }
  std::uint64_t changed(std::size_t server) const {
    return servers_[server].changed.load(std::memory_order_relaxed);
  }

  // Selector::pick already counts the connection of the server it returns. These are for the
  // rest: a queued request handed a freed slot, and the end of every connection.
  void begin_connection(std::size_t server) {
    servers_[server].connections.fetch_add(1, std::memory_order_relaxed);
    touch(server);
  }
  void end_connection(std::size_t server) {
    [[maybe_unused]] const auto before =
        servers_[server].connections.fetch_sub(1, std::memory_order_relaxed);
    assert(before > 0);
    touch(server);
  }
  // One more connection unless `maxconn` (0: no limit) is reached or requests already wait in
  // the server's queue (they were first). Lock-free: a compare-and-swap loop.
  bool try_begin_connection(std::size_t server, std::uint32_t maxconn) {
    if (maxconn == 0) {
      begin_connection(server);
      return true;
    }
    return try_begin_limited(server, maxconn);
  }
  // A queued request's turn: one more connection if below `maxconn` (0: no limit), the
  // queue (which it is part of) notwithstanding.
  bool try_begin_queued(std::size_t server, std::uint32_t maxconn);
  void enter_queue(std::size_t server) {
    servers_[server].queued.fetch_add(1, std::memory_order_relaxed);
    touch(server);
  }
  void leave_queue(std::size_t server) {
    [[maybe_unused]] const auto before =
        servers_[server].queued.fetch_sub(1, std::memory_order_relaxed);
    assert(before > 0);
    touch(server);
  }

  // Whether `maxconn` (0: no limit) keeps new connections off this server right now.
  bool full(std::size_t server, std::uint32_t maxconn) const {
    return maxconn != 0 && (connections(server) >= maxconn || queued(server) > 0);
  }
  // Whether a server set, as a bitmap of 64 servers per word (words() of them), has a member
  // down, or a member up.
  bool any_down(std::span<const std::uint64_t> members) const;
  bool any_up(std::span<const std::uint64_t> members) const;
  std::size_t words() const { return words_; }

 private:
  static constexpr std::uint64_t bit(std::size_t server) {
    return std::uint64_t{1} << (server % 64);
  }
  void touch(std::size_t server) {
    if (!sequence_) return;
    servers_[server].changed.store(sequence_->next.fetch_add(1, std::memory_order_relaxed),
                                   std::memory_order_relaxed);
  }
  bool try_begin_limited(std::size_t server, std::uint32_t maxconn);

  // The sequence lives on its own line, apart from the array: it is written on every
  // connection change of any server.
  struct alignas(64) Sequence {
    std::atomic<std::uint64_t> next{0};
  };

  std::size_t count_ = 0;
  std::size_t words_ = 0;
  std::unique_ptr<ServerState[]> servers_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> down_;  // bit set: server down
  std::unique_ptr<Sequence> sequence_;                  // null: no leastconn tie order
};

}  // namespace sluice::balance
