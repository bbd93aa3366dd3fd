// option httplog / tcplog and the Connect line, as haproxy 2.6.12 printed them; which line
// a frontend logs; dontlognull.
#include <doctest/doctest.h>

#include "tests/unit/log/log_test_support.hpp"

using namespace sluice::log;
using namespace sluice::log::testing;

TEST_SUITE("log") {
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
    local.client = unix_client(2);
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
    u.client = unix_client(1);
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
    c.client = unix_client(1);
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
}
