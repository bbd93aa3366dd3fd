// The runtime API on a `stats socket`: accepting on it from a worker's loop, and each
// connection's session around the sans-io CommandSession (read lines, write answers, close
// when done or idle for `stats timeout`). Knows nothing of proxies or the configuration.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "runtime/api/commands.hpp"
#include "runtime/io/loop.hpp"
#include "runtime/io/socket.hpp"
#include "runtime/io/timer.hpp"

namespace sluice::api {

// Counts the runtime API's connections (show info counts them in CumConns, not CurrConns).
struct SessionCounters {
  std::atomic<std::int64_t> current{0};
  std::atomic<std::uint64_t> total{0};
};

struct ListenerSettings {
  const InfoSource* info = nullptr;
  Level level = Level::operator_;
  std::int64_t timeout_ms = 10000;  // stats timeout
  SessionCounters* counters = nullptr;
};

// Accepts on one stats socket for one loop (EPOLLEXCLUSIVE, as the binds' acceptors).
class Listener final : public io::Pollable {
 public:
  Listener(io::Loop& loop, int fd, const ListenerSettings& settings)
      : loop_(loop), fd_(fd), settings_(settings) {}
  bool listen() { return loop_.add(fd_, *this, EPOLLIN | EPOLLEXCLUSIVE); }
  void stop_listening() { loop_.remove(fd_); }
  io::Loop& loop() { return loop_; }
  void on_events(std::uint32_t events) override;

 private:
  io::Loop& loop_;
  int fd_;
  const ListenerSettings& settings_;
};

class Session final : public io::Owned, private io::Timer {
 public:
  static void start(io::Loop& loop, io::Fd fd, const ListenerSettings& settings);
  ~Session() override;
  void on_events(std::uint32_t events) override;

 private:
  Session(io::Loop& loop, io::Fd fd, const ListenerSettings& settings);
  void on_timer() override;
  // Sends what is pending; false when the socket failed.
  bool flush();
  void end();

  static constexpr std::size_t kMaxInput = 16384;  // a longer line is not a command

  io::Loop& loop_;
  io::Fd fd_;
  const ListenerSettings& settings_;
  CommandSession commands_;
  std::string input_, output_;
  std::size_t sent_ = 0;
  bool read_closed_ = false;
  bool ended_ = false;
};

}  // namespace sluice::api
