// Syslog framing (every format, PRI, len) and the Logger's sinks: descriptors, UDP and
// UNIX datagram sockets, levels, log global.
#include <doctest/doctest.h>

#include "tests/unit/log/log_test_support.hpp"

using namespace sluice::log;
using namespace sluice::log::testing;

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
    CHECK(frame_length_of(80, Transport::socket, SyslogFormat::raw) == 80);
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
    // raw: `len` bytes on UDP too; a format with a header: `len` + 1 (haproxy 2.6.12).
    CHECK(receive(receiver.get()) ==
          "127.0.0.1:46446 [04/Dec/2026:19:17:03.490] fe fe/<NOSRV> 0/-1/-1/-1/0 200 49 - \n");
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
