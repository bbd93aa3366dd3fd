// A backend as the serving threads see it: its servers' resolved addresses, their mutable
// state (up/down, connection counts), the selector of its `balance` algorithm and the
// requests waiting for a server slot (server `maxconn`), beside the immutable config. Every
// connection to a server is counted through here.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "runtime/balance/selector.hpp"
#include "runtime/balance/server_state.hpp"
#include "runtime/config/config.hpp"
#include "runtime/io/loop.hpp"
#include "runtime/io/socket.hpp"

namespace sluice::proxy {

struct ServerTarget {
  std::uint32_t index = balance::no_server;  // in config::Backend::servers
  io::SocketAddress address;
};

// A request waiting for a server slot: an HTTP session or a TCP relay. Lives on one loop
// and is only touched on that loop's thread.
class QueueWaiter {
 public:
  // A slot on `server` is now counted for this waiter. Called on the waiter's loop, from
  // inside another connection's release: defer the work (e.g. a timer due now).
  virtual void on_server_slot(const ServerTarget& server) = 0;
  bool waiting() const { return waiting_; }

 protected:
  ~QueueWaiter() = default;

 private:
  friend class BackendState;
  QueueWaiter* prev_ = nullptr;
  QueueWaiter* next_ = nullptr;
  std::uint32_t server_ = balance::no_server;  // the server it waits for; no_server: any
  std::size_t loop_ = 0;
  bool waiting_ = false;
};

class BackendState {
 public:
  // Resolves every server address; nullptr with `error` set when one cannot be.
  static std::unique_ptr<BackendState> build(const config::Backend& backend, std::uint32_t index,
                                             std::string& error);

  const config::Backend& config() const { return *config_; }
  // In config::Config::backends.
  std::uint32_t index() const { return index_; }
  struct Picked {
    // picked: `target` is counted until release(). server_full / all_full: the caller may
    // wait() (on target.index / on any server). no_server: close or answer 503.
    balance::Outcome outcome = balance::Outcome::no_server;
    ServerTarget target;
  };
  // A server for a new connection. `avoid` is a server that just refused (redispatch).
  // While requests wait for a slot, new ones queue behind them (all_full).
  Picked pick(const balance::Request& request);
  // Ends a connection that pick() or a queue counted. The freed slot goes to the oldest
  // waiter of `loop` (the caller's) that can use it, else wakes the loops that have waiters.
  void release(std::uint32_t server, std::size_t loop) {
    states_->end_connection(server);
    if (waiting_.load() != 0) serve_queues(loop);
  }
  // A retry on the server that just refused (no `option redispatch`): counted whatever its
  // maxconn, since the failed attempt's slot was just released.
  ServerTarget claim(std::uint32_t server) {
    states_->begin_connection(server);
    return {server, addresses_[server]};
  }
  // HAProxy's pause before retrying the same server: min(`timeout connect`, 1 s).
  std::int64_t turnaround_ms() const {
    const auto& connect = config_->timeouts.connect;
    return connect && connect->count() < 1000 ? connect->count() : 1000;
  }
  // The worker's loops by index, before serving starts: queues wake each other through them.
  void set_loops(std::vector<io::Loop*> loops);
  // Queues `waiter` on `loop` (the caller's) for `server` (no_server: any server).
  void wait(QueueWaiter& waiter, std::size_t loop, std::uint32_t server);
  // Takes a waiter out of its queue (timed out, or its client left).
  void stop_waiting(QueueWaiter& waiter);
  std::uint32_t queued() const { return waiting_.load(std::memory_order_relaxed); }
  // %sc and %bc of a log line.
  int server_connections(std::uint32_t server) const {
    return static_cast<int>(states_->connections(server));
  }
  int connections() const;
  // nbsrv(): servers that can take traffic now (up, not disabled, weight above 0).
  int usable_servers() const;
  // Health checks: marks a server up or down for the balancers; true when it changed.
  bool set_server_up(std::uint32_t server, bool up) { return states_->set_up(server, up); }
  bool server_up(std::uint32_t server) const { return states_->up(server); }
  // Servers up among the primary ones (`backup` false) or the backups.
  int up_servers(bool backup) const;
  std::uint32_t server_queued(std::uint32_t server) const { return states_->queued(server); }
  const io::SocketAddress& server_address(std::uint32_t server) const { return addresses_[server]; }
  // `balance hdr(<name>)`: the field whose value the caller passes in Request::header.
  std::string_view balance_header() const { return selector_->header_name(); }

 private:
  // One loop's waiters, oldest first; its own cache line (other loops read `count`).
  struct alignas(64) LoopQueue {
    QueueWaiter* head = nullptr;
    QueueWaiter* tail = nullptr;
    std::atomic<std::uint32_t> count{0};
    std::atomic<bool> wake_posted{false};
    io::Loop* loop = nullptr;
  };
  void serve_queues(std::size_t loop);
  // On `loop`'s thread: hands free slots to its waiters in order; how many it served.
  std::size_t serve(std::size_t loop);
  bool try_slot(QueueWaiter& waiter, ServerTarget& target);
  void unlink(LoopQueue& queue, QueueWaiter& waiter);

  const config::Backend* config_ = nullptr;
  std::uint32_t index_ = 0;
  std::vector<io::SocketAddress> addresses_;
  std::unique_ptr<balance::ServerStates> states_;
  std::unique_ptr<balance::Selector> selector_;
  std::unique_ptr<LoopQueue[]> queues_;
  std::size_t loop_count_ = 0;
  std::atomic<std::uint32_t> waiting_{0};      // over every loop
  std::atomic<std::uint32_t> waiting_any_{0};  // of those, waiting for any server
};

}  // namespace sluice::proxy
