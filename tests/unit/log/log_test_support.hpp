// What the log unit tests share: a pinned time zone, fixed instants, addresses, records
// and the sinks' plumbing. Every expected line in them was sent by haproxy 2.6.12 for the
// same facts and is compared byte for byte.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <optional>
#include <string>
#include <vector>

#include "runtime/log/logger.hpp"
#include "runtime/log/syslog.hpp"
#include "runtime/log/traffic_log.hpp"

namespace sluice::log::testing {

using sluice::config::LogTarget;
using sluice::config::Mode;
using sluice::io::SocketAddress;
using Clock = std::chrono::system_clock;

// Pins TZ for one test and restores the process's zone afterwards.
class TimeZone {
 public:
  explicit TimeZone(const char* zone) {
    if (const char* old = std::getenv("TZ")) saved_ = old;
    setenv("TZ", zone, 1);
    tzset();
  }
  ~TimeZone() {
    if (saved_)
      setenv("TZ", saved_->c_str(), 1);
    else
      unsetenv("TZ");
    tzset();
  }
  TimeZone(const TimeZone&) = delete;
  TimeZone& operator=(const TimeZone&) = delete;

 private:
  std::optional<std::string> saved_;
};

// A UTC wall-clock instant, e.g. at(2026, 12, 4, 19, 4, 27, 295'000).
inline Clock::time_point at(int year, unsigned month, unsigned day, int hour, int minute,
                            int second, int microsecond = 0) {
  using namespace std::chrono;
  const sys_days date =
      year_month_day{std::chrono::year{year}, std::chrono::month{month}, std::chrono::day{day}};
  return Clock::time_point{date} + hours{hour} + minutes{minute} + seconds{second} +
         microseconds{microsecond};
}

inline SocketAddress inet(const char* ip, std::uint16_t port) {
  SocketAddress a;
  if (std::strchr(ip, ':')) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&a.storage);
    in6->sin6_family = AF_INET6;
    inet_pton(AF_INET6, ip, &in6->sin6_addr);
    in6->sin6_port = htons(port);
    a.length = sizeof(sockaddr_in6);
  } else {
    auto* in = reinterpret_cast<sockaddr_in*>(&a.storage);
    in->sin_family = AF_INET;
    inet_pton(AF_INET, ip, &in->sin_addr);
    in->sin_port = htons(port);
    a.length = sizeof(sockaddr_in);
  }
  return a;
}

// A client of a UNIX socket, accepted on the frontend's listener `listener_id`.
inline SocketAddress unix_client(std::uint16_t listener_id = 1) {
  SocketAddress a;
  a.storage.sa.sa_family = AF_UNIX;
  a.length = sizeof(sa_family_t);
  a.set_port(listener_id);
  return a;
}

// The record of haproxy's `http-request return status 200` answer to "GET /ret".
inline LogRecord returned_locally() {
  LogRecord r;
  r.client = inet("127.0.0.1", 52066);
  r.accept_date = at(2026, 12, 4, 19, 4, 27, 295'600);
  r.frontend = "fe";
  r.mode = Mode::http;
  r.request_ms = 0;
  r.active_ms = 0;
  r.status = 200;
  r.bytes_to_client = 76;
  r.termination = {'L', 'R', '-', '-'};
  r.active_connections = r.frontend_connections = 1;
  r.method = "GET";
  r.target = "/ret";
  r.version = "HTTP/1.1";
  return r;
}

// A request relayed to be/s1.
inline LogRecord relayed(const char* target) {
  LogRecord r;
  r.client = inet("127.0.0.1", 42732);
  r.accept_date = at(2026, 12, 4, 19, 7, 14, 414'000);
  r.frontend = "fe";
  r.mode = Mode::http;
  r.backend = "be";
  r.server = "s1";
  r.request_ms = r.queue_ms = r.connect_ms = r.response_ms = r.active_ms = 0;
  r.status = 200;
  r.bytes_to_client = 125;
  r.active_connections = r.frontend_connections = 1;
  r.method = "GET";
  r.target = target;
  r.version = "HTTP/1.1";
  return r;
}

inline std::string http_line(const LogRecord& r) {
  std::array<char, 4096> out{};
  return std::string(out.data(), write_http_log(out, r));
}
inline std::string tcp_line(const LogRecord& r) {
  std::array<char, 4096> out{};
  return std::string(out.data(), write_tcp_log(out, r));
}
inline std::string connect_line(const LogRecord& r) {
  std::array<char, 4096> out{};
  return std::string(out.data(), write_connect_log(out, r));
}

inline std::string frame(SyslogFormat format, int facility, Severity severity,
                         const SyslogIdentity& identity, Clock::time_point now,
                         std::string_view message, std::size_t max_length = 1024) {
  std::vector<char> out(70000);
  Framing framing{format, facility, max_length};
  const std::size_t n =
      write_syslog_frame(out, framing, severity, identity, local_time_of(now), message);
  return std::string(out.data(), n);
}

const SyslogIdentity haproxy_9791{"haproxy", 9791, ""};

inline LogTarget target(std::string where, std::string format = "", std::string facility = "local0",
                        std::string level = "", std::string min_level = "", int max_length = 1024) {
  LogTarget t;
  t.target = std::move(where);
  t.format = std::move(format);
  t.facility = std::move(facility);
  t.level = std::move(level);
  t.min_level = std::move(min_level);
  t.max_length = max_length;
  return t;
}

// What a non-blocking read end holds now (the Logger wrote before this is called).
inline std::vector<std::string> read_lines(int fd) {
  std::string all;
  char buf[8192];
  for (;;) {
    const ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) break;
    all.append(buf, static_cast<std::size_t>(n));
  }
  std::vector<std::string> lines;
  std::size_t start = 0;
  for (std::size_t nl; (nl = all.find('\n', start)) != std::string::npos; start = nl + 1)
    lines.push_back(all.substr(start, nl - start + 1));
  return lines;
}

// One datagram, waiting at most two seconds for it.
inline std::optional<std::string> receive(int fd) {
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, 2000) != 1) return std::nullopt;
  char buf[70000];
  const ssize_t n = recv(fd, buf, sizeof buf, 0);
  if (n < 0) return std::nullopt;
  return std::string(buf, static_cast<std::size_t>(n));
}

struct Pipe {
  int read_end = -1, write_end = -1;
  // The read end never blocks the test; the write end is left blocking, as a stdout often is.
  Pipe() {
    int fds[2];
    REQUIRE(pipe2(fds, O_CLOEXEC) == 0);
    read_end = fds[0];
    write_end = fds[1];
    fcntl(read_end, F_SETFL, O_NONBLOCK);
  }
  ~Pipe() {
    close(read_end);
    close(write_end);
  }
  std::string target() const { return "fd@" + std::to_string(write_end); }
};

const std::string message_ret =
    "127.0.0.1:52066 [04/Dec/2026:19:04:27.295] fe fe/<NOSRV> 0/-1/-1/-1/0 200 76 - - LR-- "
    "1/1/0/0/0 0/0 \"GET /ret HTTP/1.1\"";

}  // namespace sluice::log::testing
