// Traffic log lines, syslog framing and the sinks. Every expected line below was sent by
// haproxy 2.6.12 (UDP listeners, stdout/stderr) for the same connection facts, and is
// compared byte for byte; the time zone is pinned so the dates print as they did there.
#include <doctest/doctest.h>

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

using namespace sluice::log;
using sluice::config::LogTarget;
using sluice::config::Mode;
using sluice::io::SocketAddress;
using Clock = std::chrono::system_clock;

namespace {

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
Clock::time_point at(int year, unsigned month, unsigned day, int hour, int minute, int second,
                     int microsecond = 0) {
  using namespace std::chrono;
  const sys_days date =
      year_month_day{std::chrono::year{year}, std::chrono::month{month}, std::chrono::day{day}};
  return Clock::time_point{date} + hours{hour} + minutes{minute} + seconds{second} +
         microseconds{microsecond};
}

SocketAddress inet(const char* ip, std::uint16_t port) {
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

SocketAddress unix_client() {
  SocketAddress a;
  a.storage.sa.sa_family = AF_UNIX;
  a.length = sizeof(sa_family_t);
  return a;
}

// The record of haproxy's `http-request return status 200` answer to "GET /ret".
LogRecord returned_locally() {
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
LogRecord relayed(const char* target) {
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

std::string http_line(const LogRecord& r) {
  std::array<char, 4096> out{};
  return std::string(out.data(), write_http_log(out, r));
}
std::string tcp_line(const LogRecord& r) {
  std::array<char, 4096> out{};
  return std::string(out.data(), write_tcp_log(out, r));
}
std::string connect_line(const LogRecord& r) {
  std::array<char, 4096> out{};
  return std::string(out.data(), write_connect_log(out, r));
}

std::string frame(SyslogFormat format, int facility, Severity severity,
                  const SyslogIdentity& identity, Clock::time_point now, std::string_view message,
                  std::size_t max_length = 1024) {
  std::vector<char> out(70000);
  Framing framing{format, facility, max_length};
  const std::size_t n =
      write_syslog_frame(out, framing, severity, identity, local_time_of(now), message);
  return std::string(out.data(), n);
}

const SyslogIdentity haproxy_9791{"haproxy", 9791, ""};

LogTarget target(std::string where, std::string format = "", std::string facility = "local0",
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
std::vector<std::string> read_lines(int fd) {
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
std::optional<std::string> receive(int fd) {
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

}  // namespace

TEST_SUITE("log") {
  TEST_CASE("severities, facilities and PRI") {
    CHECK(severity_named("emerg") == Severity::emerg);
    CHECK(severity_named("info") == Severity::info);
    CHECK(severity_named("debug") == Severity::debug);
    CHECK_FALSE(severity_named("verbose"));
    CHECK(facility_named("kern") == 0);
    CHECK(facility_named("daemon") == 3);
    CHECK(facility_named("auth2") == 10);
    CHECK(facility_named("cron2") == 15);
    CHECK(facility_named("local0") == 16);
    CHECK(facility_named("local7") == 23);
    CHECK_FALSE(facility_named("local8"));
    CHECK(priority_of(16, Severity::info) == 134);  // local0.info, haproxy's "<134>"
    CHECK(priority_of(23, Severity::info) == 190);
    CHECK(priority_of(0, Severity::emerg) == 0);
    CHECK(syslog_format_named("") == SyslogFormat::unset);
    CHECK(syslog_format_named("short") == SyslogFormat::short_);
    CHECK_FALSE(syslog_format_named("json"));
  }

  TEST_CASE("local time: offset and microseconds, cached per second") {
    {
      TimeZone utc("UTC");
      const LocalTime t = local_time_of(at(2026, 12, 4, 19, 4, 27, 296'371));
      CHECK(t.year == 2026);
      CHECK(t.month == 12);
      CHECK(t.day == 4);
      CHECK(t.hour == 19);
      CHECK(t.second == 27);
      CHECK(t.microsecond == 296'371);
      CHECK(t.utc_offset_seconds == 0);
      CHECK(local_time_of(at(2026, 12, 4, 19, 4, 27, 7)).microsecond == 7);
    }
    {
      // Captured with TZ=America/St_Johns (UTC-03:30): 19:09:26 UTC printed as 15:39:26.
      TimeZone newfoundland("America/St_Johns");
      const auto now = at(2026, 12, 4, 19, 9, 26, 364'501);
      CHECK(frame(SyslogFormat::rfc5424, 17, Severity::info, {"haproxy", 18367, ""}, now, "m") ==
            "<142>1 2026-12-04T15:39:26.364501-03:30 - haproxy 18367 - - m\n");
      CHECK(frame(SyslogFormat::unset, 16, Severity::info, {"haproxy", 18367, ""}, now, "m") ==
            "<134>Dec  4 15:39:26 haproxy[18367]: m\n");
      LogRecord r = returned_locally();
      r.accept_date = at(2026, 12, 4, 19, 9, 26, 364'900);
      CHECK(http_line(r).starts_with("127.0.0.1:52066 [04/Dec/2026:15:39:26.364] fe "));
    }
  }

  TEST_CASE("framing: every format as haproxy sent the same line over UDP") {
    TimeZone utc("UTC");
    const auto& m = message_ret;
    const auto id = haproxy_9791;
    // `log 127.0.0.1:514 local0`: no format, no log-send-hostname → no HOSTNAME field.
    CHECK(frame(SyslogFormat::unset, 16, Severity::info, id, at(2026, 12, 4, 19, 4, 27, 296'300),
                m) == "<134>Dec  4 19:04:27 haproxy[9791]: " + m + "\n");
    // An explicit rfc3164 always has one: "localhost" when no hostname is configured.
    CHECK(frame(SyslogFormat::rfc3164, 17, Severity::info, id, at(2026, 12, 4, 19, 4, 27), m) ==
          "<142>Dec  4 19:04:27 localhost haproxy[9791]: " + m + "\n");
    CHECK(frame(SyslogFormat::rfc5424, 18, Severity::info, id, at(2026, 12, 4, 19, 4, 27, 296'371),
                m) == "<150>1 2026-12-04T19:04:27.296371+00:00 - haproxy 9791 - - " + m + "\n");
    CHECK(frame(SyslogFormat::short_, 19, Severity::info, id, at(2026, 12, 4, 19, 4, 27), m) ==
          "<6>" + m + "\n");
    CHECK(frame(SyslogFormat::priority, 20, Severity::info, id, at(2026, 12, 4, 19, 4, 27), m) ==
          "<166>" + m + "\n");
    CHECK(frame(SyslogFormat::iso, 21, Severity::info, id, at(2026, 12, 4, 19, 4, 27, 296'436),
                m) == "2026-12-04T19:04:27.296436+00:00 " + m + "\n");
    CHECK(frame(SyslogFormat::local, 22, Severity::info, id, at(2026, 12, 4, 19, 4, 27), m) ==
          "<182>Dec  4 19:04:27 haproxy[9791]: " + m + "\n");
    CHECK(frame(SyslogFormat::timed, 23, Severity::info, id, at(2026, 12, 4, 19, 4, 27, 296'461),
                m) == "<6>2026-12-04T19:04:27.296461+00:00 " + m + "\n");
    CHECK(frame(SyslogFormat::raw, 3, Severity::info, id, at(2026, 12, 4, 19, 4, 27), m) ==
          m + "\n");
  }

  TEST_CASE("framing: with a hostname (log-send-hostname myhost)") {
    TimeZone utc("UTC");
    const SyslogIdentity id{"haproxy", 12083, "myhost"};
    const auto now = at(2026, 12, 4, 19, 6, 3, 525'656);
    const std::string m = "Connect from 127.0.0.1:56636 to 127.0.0.1:18091 (fd/TCP)";
    // No format then means rfc3164; `local` never has the field.
    CHECK(frame(SyslogFormat::unset, 16, Severity::info, id, now, m) ==
          "<134>Dec  4 19:06:03 myhost haproxy[12083]: " + m + "\n");
    CHECK(frame(SyslogFormat::rfc3164, 16, Severity::info, id, now, m) ==
          "<134>Dec  4 19:06:03 myhost haproxy[12083]: " + m + "\n");
    CHECK(frame(SyslogFormat::rfc5424, 16, Severity::info, id, now, m) ==
          "<134>1 2026-12-04T19:06:03.525656+00:00 myhost haproxy 12083 - - " + m + "\n");
    CHECK(frame(SyslogFormat::local, 16, Severity::info, id, now, m) ==
          "<134>Dec  4 19:06:03 haproxy[12083]: " + m + "\n");
  }

  TEST_CASE("framing: `len` bounds the frame: with the newline on a descriptor, not a socket") {
    TimeZone utc("UTC");
    CHECK(frame_length_of(80, Transport::descriptor) == 80);
    CHECK(frame_length_of(80, Transport::socket) == 81);
    const SyslogIdentity id{"mytag", 10445, "myhost"};
    const auto now = at(2026, 12, 4, 19, 5, 5);
    // UDP `log 127.0.0.1:15141 len 80 format rfc3164 local1 info`: 80 bytes and the newline.
    const std::string httplog =
        "127.0.0.1:35322 [04/Dec/2026:19:05:05.297] fe be/s1 0/0/0/3/3 200 125 - - ---- "
        "1/1/0/0/0 0/0 \"GET /x?y=1 HTTP/1.1\"";
    const std::string cut = frame(SyslogFormat::rfc3164, 17, Severity::info, id, now, httplog,
                                  frame_length_of(80, Transport::socket));
    CHECK(cut ==
          "<142>Dec  4 19:05:05 myhost mytag[10445]: 127.0.0.1:35322 [04/Dec/2026:19:05:05.\n");
    CHECK(cut.size() == 81);
    // `log stderr len 100 format rfc3164 local0`: 100 bytes, newline included. A 99-byte
    // line passes whole, a 101-byte one is cut.
    const std::size_t stderr_100 = frame_length_of(100, Transport::descriptor);
    CHECK(frame(SyslogFormat::rfc3164, 16, Severity::info, id, now,
                "Connect from 127.0.0.1:46796 to 127.0.0.1:18091 (fd/TCP)", stderr_100) ==
          "<134>Dec  4 19:05:05 myhost mytag[10445]: Connect from 127.0.0.1:46796 to "
          "127.0.0.1:18091 (fd/TCP)\n");
    CHECK(frame(SyslogFormat::rfc3164, 16, Severity::info, id, now,
                "Connect from 127.0.0.1:46608 to 127.0.0.1:18092 (fdh/HTTP)", stderr_100) ==
          "<134>Dec  4 19:05:05 myhost mytag[10445]: Connect from 127.0.0.1:46608 to "
          "127.0.0.1:18092 (fdh/HTTP\n");
    // `len 100 format rfc5424` on UDP and on stderr, same line.
    const std::string line =
        "127.0.0.1:46446 [04/Dec/2026:19:17:03.490] fe fe/<NOSRV> 0/-1/-1/-1/0 200 49 - - LR-- "
        "1/1/0/0/0 0/0 \"GET /abc HTTP/1.1\"";
    CHECK(frame(SyslogFormat::rfc5424, 16, Severity::info, {"haproxy", 24617, ""},
                at(2026, 12, 4, 19, 17, 3, 490'255), line,
                frame_length_of(100, Transport::socket)) ==
          "<134>1 2026-12-04T19:17:03.490255+00:00 - haproxy 24617 - - 127.0.0.1:46446 "
          "[04/Dec/2026:19:17:03.49\n");
    CHECK(frame(SyslogFormat::rfc5424, 16, Severity::info, {"haproxy", 24617, ""},
                at(2026, 12, 4, 19, 17, 3, 490'301), line,
                frame_length_of(100, Transport::descriptor)) ==
          "<134>1 2026-12-04T19:17:03.490301+00:00 - haproxy 24617 - - 127.0.0.1:46446 "
          "[04/Dec/2026:19:17:03.4\n");
    // A header longer than `len` is cut too; the frame still ends with the newline.
    CHECK(frame(SyslogFormat::rfc3164, 16, Severity::info, id, now, "x", 10) == "<134>Dec \n");
    CHECK(frame(SyslogFormat::raw, 16, Severity::info, id, now, "abc", 1) == "\n");
    // The caller's buffer bounds it as well.
    std::array<char, 5> small{};
    CHECK(write_syslog_frame(small, {SyslogFormat::raw, 16, 1024}, Severity::info, id,
                             local_time_of(now), "abcdefgh") == 5);
    CHECK(std::string(small.data(), 5) == "abcd\n");
    std::array<char, 8> tiny{};
    CHECK(write_syslog_header(tiny, {SyslogFormat::rfc5424, 16, 1024}, Severity::info, id,
                              local_time_of(now)) == 0);
  }

  TEST_CASE("httplog: lines haproxy printed") {
    TimeZone utc("UTC");
    // http-request return: no backend chosen, so the frontend's name, and <NOSRV>.
    CHECK(http_line(returned_locally()) == message_ret);

    // An empty connection: "<BADREQ>", TR -1, 400 written by haproxy.
    LogRecord bad;
    bad.client = inet("127.0.0.1", 58924);
    bad.accept_date = at(2026, 12, 4, 19, 6, 41, 598'000);
    bad.frontend = "fe";
    bad.active_ms = 300;
    bad.status = 400;
    bad.termination = {'C', 'R', '-', '-'};
    bad.active_connections = bad.frontend_connections = 1;
    CHECK(http_line(bad) ==
          "127.0.0.1:58924 [04/Dec/2026:19:06:41.598] fe fe/<NOSRV> -1/-1/-1/-1/300 400 0 - - "
          "CR-- 1/1/0/0/0 0/0 \"<BADREQ>\"");

    // IPv6 client: no brackets.
    LogRecord v6 = relayed("/v6");
    v6.client = inet("::1", 34650);
    v6.accept_date = at(2026, 12, 4, 19, 6, 44, 358'000);
    CHECK(http_line(v6) ==
          "::1:34650 [04/Dec/2026:19:06:44.358] fe be/s1 0/0/0/0/0 200 125 - - ---- "
          "1/1/0/0/0 0/0 \"GET /v6 HTTP/1.1\"");

    // TLS frontend: '~'.
    LogRecord tls = relayed("/tls");
    tls.client = inet("127.0.0.1", 37030);
    tls.accept_date = at(2026, 12, 4, 19, 6, 44, 676'000);
    tls.frontend_tls = true;
    tls.connect_ms = 1;
    tls.active_ms = 1;
    CHECK(http_line(tls) ==
          "127.0.0.1:37030 [04/Dec/2026:19:06:44.676] fe~ be/s1 0/0/1/0/1 200 125 - - ---- "
          "1/1/0/0/0 0/0 \"GET /tls HTTP/1.1\"");

    // retries 2 + option redispatch after a refused connect: "+1".
    LogRecord redispatched = relayed("/r");
    redispatched.client = inet("127.0.0.1", 43724);
    redispatched.accept_date = at(2026, 12, 4, 19, 8, 58, 690'000);
    redispatched.frontend = "fx";
    redispatched.backend = "bx";
    redispatched.server = "s2";
    redispatched.response_ms = redispatched.active_ms = 1;
    redispatched.retries = 1;
    redispatched.redispatched = true;
    CHECK(http_line(redispatched) ==
          "127.0.0.1:43724 [04/Dec/2026:19:08:58.690] fx bx/s2 0/0/0/1/1 200 125 - - ---- "
          "1/1/0/0/+1 0/0 \"GET /r HTTP/1.1\"");

    // The server closed without answering: Tr -1, 502, SH--.
    LogRecord closed = relayed("/slow");
    closed.client = inet("127.0.0.1", 42800);
    closed.accept_date = at(2026, 12, 4, 19, 8, 53, 351'000);
    closed.response_ms = -1;
    closed.active_ms = 2001;
    closed.status = 502;
    closed.bytes_to_client = 209;
    closed.termination = {'S', 'H', '-', '-'};
    closed.active_connections = 3;
    closed.frontend_connections = 2;
    closed.backend_connections = 1;
    closed.server_connections = 1;
    CHECK(http_line(closed) ==
          "127.0.0.1:42800 [04/Dec/2026:19:08:53.351] fe be/s1 0/0/0/-1/2001 502 209 - - SH-- "
          "3/2/1/1/0 0/0 \"GET /slow HTTP/1.1\"");

    // A client on a UNIX socket (the frontend's second bind): "unix:<listener id>".
    LogRecord local = relayed("/unix");
    local.client = unix_client();
    local.listener_id = 2;
    local.accept_date = at(2026, 12, 4, 19, 7, 39, 178'000);
    local.response_ms = local.active_ms = 2;
    CHECK(http_line(local) ==
          "unix:2 [04/Dec/2026:19:07:39.178] fe be/s1 0/0/0/2/2 200 125 - - ---- 1/1/0/0/0 0/0 "
          "\"GET /unix HTTP/1.1\"");
  }

  TEST_CASE("httplog: the request line's encoding and length") {
    TimeZone utc("UTC");
    const std::string head =
        "127.0.0.1:42732 [04/Dec/2026:19:07:14.414] fe be/s1 0/0/0/0/0 200 125 - - ---- "
        "1/1/0/0/0 0/0 ";
    CHECK(http_line(relayed("/a\"b")) == head + "\"GET /a#22b HTTP/1.1\"");
    CHECK(http_line(relayed("/a#b")) == head + "\"GET /a#23b HTTP/1.1\"");
    CHECK(http_line(relayed("/a\x80"
                            "b")) == head + "\"GET /a#80b HTTP/1.1\"");
    CHECK(http_line(relayed("/a{|}b")) == head + "\"GET /a{|}b HTTP/1.1\"");
    CHECK(http_line(relayed("/a'b\\c")) == head + "\"GET /a'b\\c HTTP/1.1\"");
    CHECK(http_line(relayed("http://x/abs")) == head + "\"GET http://x/abs HTTP/1.1\"");
    std::string bytes_ab = "/a";
    std::string encoded_ab = "/a";
    for (int i = 0; i < 60; ++i) {
      bytes_ab += '\xab';
      encoded_ab += "#AB";  // upper-case hex
    }
    CHECK(http_line(relayed(bytes_ab.c_str())) == head + "\"GET " + encoded_ab + " HTTP/1.1\"");

    // With the default tune.http.logurilen, haproxy keeps 1023 bytes of the request line,
    // then encodes them: "GET /" + 1010 'x' + "\x80 HTTP/1.1" prints up to "HTTP/1".
    const std::string xs(1010, 'x');
    const std::string raw_target = "/" + xs + "\x80";
    CHECK(http_line(relayed(raw_target.c_str())) == head + "\"GET /" + xs + "#80 HTTP/1\"");
    const std::string long_target = "/" + std::string(1100, 'x');
    CHECK(http_line(relayed(long_target.c_str())) ==
          head + "\"GET " + long_target.substr(0, 1019) + "\"");
    const std::string fits = "/" + std::string(1009, 'x');  // 4 + 1010 + 9 = 1023
    CHECK(http_line(relayed(fits.c_str())) == head + "\"GET " + fits + " HTTP/1.1\"");
  }

  TEST_CASE("httplog: a buffer too small gets what fits, never more") {
    TimeZone utc("UTC");
    std::array<char, 20> out{};
    CHECK(write_http_log(out, returned_locally()) == 20);
    CHECK(std::string(out.data(), 20) == message_ret.substr(0, 20));
    CHECK(write_http_log(std::span<char>(), returned_locally()) == 0);
  }

  TEST_CASE("tcplog and the connect line: lines haproxy printed") {
    TimeZone utc("UTC");
    LogRecord r;
    r.client = inet("127.0.0.1", 55032);
    r.accept_date = at(2026, 12, 4, 19, 5, 5, 313'999);
    r.frontend = "ft";
    r.backend = "bt";
    r.server = "t1";
    r.queue_ms = 1;
    r.connect_ms = 0;
    r.total_ms = 7;
    r.bytes_to_client = 122;
    r.active_connections = r.frontend_connections = 1;
    CHECK(tcp_line(r) ==
          "127.0.0.1:55032 [04/Dec/2026:19:05:05.313] ft bt/t1 1/0/7 122 -- "
          "1/1/0/0/0 0/0");
    // Cookie flags never show in tcplog.
    r.termination = {'S', 'D', 'N', 'I'};
    r.server = "s1";
    r.total_ms = 2000;
    r.bytes_to_client = 0;
    r.active_connections = 2;
    r.client = inet("127.0.0.1", 54872);
    r.accept_date = at(2026, 12, 4, 19, 8, 53, 760'000);
    CHECK(tcp_line(r) ==
          "127.0.0.1:54872 [04/Dec/2026:19:08:53.760] ft bt/s1 1/0/2000 0 SD "
          "2/1/0/0/0 0/0");
    LogRecord u = r;
    u.client = unix_client();
    u.listener_id = 1;
    u.termination = {};
    u.server = "t1";
    u.total_ms = 2;
    u.bytes_to_client = 122;
    u.active_connections = 1;
    u.accept_date = at(2026, 12, 4, 19, 7, 39, 194'000);
    CHECK(tcp_line(u) == "unix:1 [04/Dec/2026:19:07:39.194] ft bt/t1 1/0/2 122 -- 1/1/0/0/0 0/0");

    LogRecord c;
    c.client = inet("127.0.0.1", 46796);
    c.frontend_address = inet("127.0.0.1", 18091);
    c.frontend = "fd";
    CHECK(connect_line(c) == "Connect from 127.0.0.1:46796 to 127.0.0.1:18091 (fd/TCP)");
    c.client = inet("127.0.0.1", 46608);
    c.frontend_address = inet("127.0.0.1", 18092);
    c.frontend = "fdh";
    c.mode = Mode::http;
    CHECK(connect_line(c) == "Connect from 127.0.0.1:46608 to 127.0.0.1:18092 (fdh/HTTP)");
    c.client = inet("::1", 43684);
    c.frontend_address = inet("::1", 18095);
    c.frontend = "fdef";
    c.mode = Mode::tcp;
    CHECK(connect_line(c) == "Connect from ::1:43684 to ::1:18095 (fdef/TCP)");
    c.client = unix_client();
    c.listener_id = 1;
    CHECK(connect_line(c) == "Connect to unix:1 (fdef/TCP)");
  }

  TEST_CASE("which line a frontend logs, and dontlognull") {
    sluice::config::Frontend f;
    f.mode = Mode::http;
    CHECK(traffic_log_of(f) == TrafficLog::connect);
    f.httplog = true;
    CHECK(traffic_log_of(f) == TrafficLog::http);
    f.mode = Mode::tcp;  // haproxy: "Falling back to 'option tcplog'"
    CHECK(traffic_log_of(f) == TrafficLog::tcp);
    f.httplog = false;
    f.tcplog = true;
    f.mode = Mode::http;
    CHECK(traffic_log_of(f) == TrafficLog::tcp);

    LogRecord silent;  // the client sent nothing (a probe), even if the server did
    silent.bytes_to_client = 8;
    LogRecord spoke;
    spoke.bytes_from_client = 5;
    CHECK_FALSE(suppressed_by_dontlognull(f, silent));
    f.dontlognull = true;
    CHECK(suppressed_by_dontlognull(f, silent));
    CHECK_FALSE(suppressed_by_dontlognull(f, spoke));
    f.tcplog = false;  // the connect line is logged at accept whatever dontlognull says
    CHECK_FALSE(suppressed_by_dontlognull(f, silent));

    std::array<char, 256> out{};
    LogRecord c;
    c.client = inet("10.0.0.1", 1);
    c.frontend_address = inet("10.0.0.2", 2);
    c.frontend = "x";
    CHECK(std::string(out.data(), write_traffic_log(out, TrafficLog::connect, c)) ==
          "Connect from 10.0.0.1:1 to 10.0.0.2:2 (x/TCP)");
  }

  TEST_CASE("Logger: a descriptor target, levels, min level, len and log global") {
    TimeZone utc("UTC");
    Pipe pipe;
    const auto now = at(2026, 12, 4, 19, 5, 5);
    std::vector<LogTarget> global = {target(pipe.target(), "short", "local3", "debug", "notice"),
                                     target(pipe.target(), "rfc3164", "local1", "info", "", 80)};
    std::vector<LogTarget> proxy = {target(pipe.target(), "raw", "daemon", "err")};
    LogTarget use_global;
    use_global.global = true;
    proxy.push_back(use_global);
    std::string error;
    auto logger = Logger::create(proxy, global, {"mytag", 10445, "myhost"}, error);
    REQUIRE_MESSAGE(logger, error);
    CHECK_FALSE(logger->empty());
    CHECK(logger->message_buffer().size() == 1024);

    // info: not for the `err` target; the others take it (notice caps only more severe lines).
    logger->emit(Severity::info, "hello", now);
    auto lines = read_lines(pipe.read_end);
    REQUIRE(lines.size() == 2);
    CHECK(lines[0] == "<6>hello\n");
    CHECK(lines[1] == "<142>Dec  4 19:05:05 myhost mytag[10445]: hello\n");

    // alert: every target; the `notice` minimum turns it into a notice there.
    logger->emit(Severity::alert, "down", now);
    lines = read_lines(pipe.read_end);
    REQUIRE(lines.size() == 3);
    CHECK(lines[0] == "down\n");
    CHECK(lines[1] == "<5>down\n");
    CHECK(lines[2] == "<137>Dec  4 19:05:05 myhost mytag[10445]: down\n");

    // debug: only the debug target.
    logger->emit(Severity::debug, "noise", now);
    lines = read_lines(pipe.read_end);
    REQUIRE(lines.size() == 1);
    CHECK(lines[0] == "<7>noise\n");

    // len 80 on the rfc3164 target only.
    const std::string long_message(200, 'y');
    logger->emit(Severity::info, long_message, now);
    lines = read_lines(pipe.read_end);
    REQUIRE(lines.size() == 2);
    CHECK(lines[0] == "<6>" + long_message + "\n");
    CHECK(lines[1].size() == 80);
    CHECK(lines[1].back() == '\n');
    CHECK(logger->dropped() == 0);
  }

  TEST_CASE(
      "Logger: a full pipe drops the line, never blocks (the descriptor becomes O_NONBLOCK)") {
    Pipe pipe;
    std::string error;
    std::vector<LogTarget> targets = {target(pipe.target(), "raw")};
    auto logger = Logger::create(targets, {}, {}, error);
    REQUIRE(logger);
    const std::string chunk(4000, 'z');
    for (int i = 0; i < 200; ++i)
      logger->emit(Severity::info, chunk);  // 800 KB > pipe size
    CHECK(logger->dropped() > 0);
    CHECK((fcntl(pipe.write_end, F_GETFL) & O_NONBLOCK) != 0);
  }

  TEST_CASE("Logger: stdout and stderr are descriptors 1 and 2") {
    TimeZone utc("UTC");
    Pipe out, err;
    std::fflush(stdout);
    std::fflush(stderr);
    const int saved_out = dup(1), saved_err = dup(2);
    REQUIRE(dup2(out.write_end, 1) == 1);
    REQUIRE(dup2(err.write_end, 2) == 2);
    std::vector<LogTarget> targets = {target("stdout", "raw"), target("stderr")};
    std::string error;
    auto logger = Logger::create(targets, {}, haproxy_9791, error);
    if (logger) logger->emit(Severity::info, message_ret, at(2026, 12, 4, 19, 4, 27));
    dup2(saved_out, 1);
    dup2(saved_err, 2);
    close(saved_out);
    close(saved_err);
    REQUIRE_MESSAGE(logger, error);
    CHECK(read_lines(out.read_end) == std::vector<std::string>{message_ret + "\n"});
    CHECK(read_lines(err.read_end) ==
          std::vector<std::string>{"<134>Dec  4 19:04:27 haproxy[9791]: " + message_ret + "\n"});
  }

  TEST_CASE("Logger: the message buffer is as long as the longest `len`") {
    Pipe pipe;
    std::string error;
    std::vector<LogTarget> targets = {target(pipe.target(), "raw", "local0", "", "", 300),
                                      target(pipe.target(), "raw", "local0", "", "", 8192)};
    auto logger = Logger::create(targets, {}, {}, error);
    REQUIRE(logger);
    CHECK(logger->message_buffer().size() == 8192);
    auto none = Logger::create({}, {}, {}, error);
    REQUIRE(none);
    CHECK(none->empty());
    none->emit(Severity::info, "nowhere");
    CHECK(none->dropped() == 0);
  }

  TEST_CASE("Logger: UDP round trip on 127.0.0.1") {
    TimeZone utc("UTC");
    sluice::io::Fd receiver(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    SocketAddress bound = inet("127.0.0.1", 0);
    REQUIRE(bind(receiver.get(), bound.get(), bound.length) == 0);
    const auto port = SocketAddress::local_of(receiver.get()).port();
    std::vector<LogTarget> targets = {
        target("127.0.0.1:" + std::to_string(port)),
        target("udp@127.0.0.1:" + std::to_string(port), "rfc5424", "local2")};
    std::string error;
    auto logger = Logger::create(targets, {}, haproxy_9791, error);
    REQUIRE_MESSAGE(logger, error);

    // The proxy's way: format into the Logger's buffer, then emit a view of it.
    std::span<char> buffer = logger->message_buffer();
    const std::size_t n = write_http_log(buffer, returned_locally());
    logger->emit(traffic_severity, {buffer.data(), n}, at(2026, 12, 4, 19, 4, 27, 296'371));
    CHECK(receive(receiver.get()) == "<134>Dec  4 19:04:27 haproxy[9791]: " + message_ret + "\n");
    CHECK(receive(receiver.get()) ==
          "<150>1 2026-12-04T19:04:27.296371+00:00 - haproxy 9791 - - " + message_ret + "\n");
    CHECK(logger->dropped() == 0);
  }

  TEST_CASE("Logger: `len 80` on UDP and on a descriptor, as haproxy cut the same line") {
    sluice::io::Fd receiver(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    SocketAddress bound = inet("127.0.0.1", 0);
    REQUIRE(bind(receiver.get(), bound.get(), bound.length) == 0);
    const std::string udp =
        "127.0.0.1:" + std::to_string(SocketAddress::local_of(receiver.get()).port());
    Pipe pipe;
    std::vector<LogTarget> targets = {target(udp, "raw", "local0", "", "", 80),
                                      target(udp, "short", "local0", "", "", 80),
                                      target(pipe.target(), "raw", "local0", "", "", 80),
                                      target(pipe.target(), "short", "local0", "", "", 80)};
    std::string error;
    auto logger = Logger::create(targets, {}, haproxy_9791, error);
    REQUIRE_MESSAGE(logger, error);
    CHECK(logger->message_buffer().size() == 80);
    logger->emit(Severity::info,
                 "127.0.0.1:46446 [04/Dec/2026:19:17:03.490] fe fe/<NOSRV> 0/-1/-1/-1/0 200 49 - "
                 "- LR-- 1/1/0/0/0 0/0 \"GET /abcdefghijklmnopqrstuvwxyz HTTP/1.1\"");
    CHECK(receive(receiver.get()) ==
          "127.0.0.1:46446 [04/Dec/2026:19:17:03.490] fe fe/<NOSRV> 0/-1/-1/-1/0 200 49 - -\n");
    CHECK(receive(receiver.get()) ==
          "<6>127.0.0.1:46446 [04/Dec/2026:19:17:03.490] fe fe/<NOSRV> 0/-1/-1/-1/0 200 49 \n");
    auto lines = read_lines(pipe.read_end);
    REQUIRE(lines.size() == 2);
    CHECK(lines[0] ==
          "127.0.0.1:46446 [04/Dec/2026:19:17:03.490] fe fe/<NOSRV> 0/-1/-1/-1/0 200 49 - \n");
    CHECK(lines[1] ==
          "<6>127.0.0.1:46446 [04/Dec/2026:19:17:03.490] fe fe/<NOSRV> 0/-1/-1/-1/0 200 49\n");
  }

  TEST_CASE("Logger: UDP with nobody listening loses lines quietly") {
    sluice::io::Fd probe(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    SocketAddress bound = inet("127.0.0.1", 0);
    REQUIRE(bind(probe.get(), bound.get(), bound.length) == 0);
    const auto port = SocketAddress::local_of(probe.get()).port();
    probe.reset();  // the port is now closed: ICMP port unreachable
    std::vector<LogTarget> targets = {target("127.0.0.1:" + std::to_string(port))};
    std::string error;
    auto logger = Logger::create(targets, {}, {}, error);
    REQUIRE(logger);
    for (int i = 0; i < 5; ++i)
      logger->emit(Severity::info, "lost");
    CHECK(logger->dropped() <= 5);  // the first datagrams leave before the ICMP answers
  }

  TEST_CASE("Logger: a UNIX datagram socket (as /dev/log)") {
    char dir_template[] = "/tmp/sluice-log-XXXXXX";
    REQUIRE(mkdtemp(dir_template) != nullptr);
    const std::string path = std::string(dir_template) + "/log.sock";
    std::vector<LogTarget> targets = {target(path, "short")};
    std::string error;
    auto logger = Logger::create(targets, {}, {}, error);
    REQUIRE_MESSAGE(logger, error);

    logger->emit(Severity::info, "before the daemon");  // no socket yet: dropped
    CHECK(logger->dropped() == 1);

    sluice::io::Fd receiver(socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
    REQUIRE(bind(receiver.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    logger->emit(Severity::info, "hello");
    CHECK(receive(receiver.get()) == "<6>hello\n");
    CHECK(logger->dropped() == 1);
    receiver.reset();
    unlink(path.c_str());
    rmdir(dir_template);
  }

  TEST_CASE("Logger: targets it cannot use are reported, not thrown") {
    std::string error;
    auto fails = [&](std::string where) {
      std::vector<LogTarget> targets = {target(std::move(where))};
      error.clear();
      return !Logger::create(targets, {}, {}, error) && !error.empty();
    };
    CHECK(fails("ring@buf"));
    CHECK(error.find("not supported by sluice") != std::string::npos);
    CHECK(fails("tcp@127.0.0.1:514"));
    CHECK(fails("fd@987"));
    CHECK(fails("127.0.0.1:99999"));
    CHECK(fails("127.0.0.1:x"));
    CHECK(fails("[::1"));
    CHECK(fails("foo@bar"));

    auto works = [&](std::string where) {
      std::vector<LogTarget> targets = {target(std::move(where))};
      return Logger::create(targets, {}, {}, error).has_value();
    };
    CHECK(works("stdout"));
    CHECK(works("stderr"));
    CHECK(works("127.0.0.1"));  // port 514
    CHECK(works("ipv4@127.0.0.1:514"));
    CHECK(works("[::1]:514"));
    CHECK(works("::1:"));
    CHECK(works("udp6@::1:514"));
    CHECK(works("/dev/null-is-not-a-socket"));  // datagrams to it are just dropped
  }
}
