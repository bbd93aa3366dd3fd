// Where log lines go: the `log` targets of one proxy (stdout/stderr/fd@N, UDP syslog, UNIX
// datagram sockets such as /dev/log), framed per target and sent without ever blocking.
// One Logger per event loop and proxy: no lock, no allocation per line. Knows nothing of
// sessions or of what a line says; the proxy formats it (traffic_log.hpp) and calls emit().
#pragma once

#include <sys/un.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/config/config.hpp"
#include "runtime/io/socket.hpp"
#include "runtime/log/syslog.hpp"

namespace sluice::log {

class Logger {
 public:
  // One sink per target; `log global` (target.global) stands for every `global_targets`
  // entry. nullopt with `error` set when a target cannot be used (unresolvable host,
  // a kind sluice does not send to such as ring@ or tcp@, a socket that cannot be made).
  static std::optional<Logger> create(std::span<const config::LogTarget> targets,
                                      std::span<const config::LogTarget> global_targets,
                                      const SyslogIdentity& identity, std::string& error);

  Logger(Logger&&) noexcept = default;
  Logger& operator=(Logger&&) noexcept = default;
  Logger(const Logger&) = delete;
  Logger& operator=(const Logger&) = delete;
  ~Logger() = default;

  // No target: the proxy need not build a line at all.
  bool empty() const { return sinks_.empty(); }

  // Scratch space for the caller's message, as long as the longest line any target takes
  // (`len`), so a line is built without allocating. emit() may be given a view of it.
  std::span<char> message_buffer() { return message_; }

  // Frames `message` for each target whose level admits `severity` and sends it: one
  // write(2) per line on a descriptor (atomic on a pipe up to PIPE_BUF), one datagram on a
  // socket. A target that cannot take the line now (EAGAIN, no listener) loses it. Like
  // haproxy 2.6, the first line sent to a descriptor makes it O_NONBLOCK (that flag is
  // shared with whoever else holds the same pipe or terminal).
  void emit(Severity severity, std::string_view message);
  void emit(Severity severity, std::string_view message, std::chrono::system_clock::time_point now);

  // Lines a target could not take, summed over targets (HAProxy's DroppedLogs).
  std::uint64_t dropped() const { return dropped_; }

 private:
  struct Sink {
    enum class Kind : std::uint8_t { descriptor, udp, unix_datagram } kind = Kind::descriptor;
    int fd = -1;                // the descriptor written to: stdout/stderr/fd@N, or `socket`
    io::Fd socket;              // owned for udp and unix_datagram
    sockaddr_un path{};         // unix_datagram: sent to by name each time, so a restarted syslog
    socklen_t path_length = 0;  // daemon (a new socket file) is found again
    bool descriptor_is_socket = false;    // send(MSG_DONTWAIT) rather than write(2)
    bool descriptor_nonblocking = false;  // O_NONBLOCK set, at the first line as HAProxy does
    Framing framing;
    Severity max_level = Severity::debug;  // lines less severe than this are dropped
    std::optional<Severity> min_level;     // lines more severe than this are capped to it
  };

  Logger() = default;
  static std::optional<Sink> open_sink(const config::LogTarget& target, std::string& error);
  bool send(Sink& sink, std::size_t length);

  std::vector<Sink> sinks_;
  SyslogIdentity identity_;
  std::vector<char> message_;
  std::vector<char> frame_;
  std::uint64_t dropped_ = 0;
};

}  // namespace sluice::log
