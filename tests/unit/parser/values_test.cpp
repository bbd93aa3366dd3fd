#include "parser/values.hpp"

#include <doctest/doctest.h>

using namespace sluice::parser;

namespace {
template <typename T>
T ok(const Parsed<T>& p) {
  REQUIRE(is_valid(p));
  return std::get<T>(p);
}
template <typename T>
std::string err(const Parsed<T>& p) {
  REQUIRE_FALSE(is_valid(p));
  return error_of(p)->message;
}
}  // namespace

TEST_CASE("times: units us ms s m h d, bare numbers are milliseconds") {
  CHECK(ok(parse_time_us("100")) == 100'000);
  CHECK(ok(parse_time_us("100ms")) == 100'000);
  CHECK(ok(parse_time_us("500us")) == 500);
  CHECK(ok(parse_time_us("5s")) == 5'000'000);
  CHECK(ok(parse_time_us("2m")) == 120'000'000);
  CHECK(ok(parse_time_us("1h")) == 3'600'000'000ull);
  CHECK(ok(parse_time_us("1d")) == 86'400'000'000ull);
  CHECK(err(parse_time_us("5x")) == "unknown unit 'x' in time");
  CHECK(err(parse_time_us("s")) == "expected a time, found 's'");
  CHECK(err(parse_time_us("")) == "missing time");
  CHECK(err(parse_time_us("-5s")) == "expected a time, found '-5s'");
  CHECK(err(parse_time_us("30d")).find("too large") != std::string::npos);
  CHECK(error_of(parse_time_us("5sx"))->offset == 1);
}

TEST_CASE("sizes: k m g are powers of 1024") {
  CHECK(ok(parse_size("16384")) == 16384);
  CHECK(ok(parse_size("16k")) == 16384);
  CHECK(ok(parse_size("1m")) == 1048576);
  CHECK(ok(parse_size("1g")) == 1073741824);
  CHECK(err(parse_size("1t")) == "unknown unit 't' in size");
}

TEST_CASE("integers within bounds") {
  CHECK(ok(parse_integer("42", 0, 100)) == 42);
  CHECK(ok(parse_integer("-3", -5, 5)) == -3);
  CHECK(err(parse_integer("101", 0, 100)) == "value 101 is out of range [0, 100]");
  CHECK(err(parse_integer("4x", 0, 100)) == "expected an integer, found '4x'");
  CHECK(err(parse_integer("", 0, 100)) == "expected an integer, found ''");
}

TEST_CASE("bind addresses") {
  auto list = ok(parse_address_list("*:80", AddressUse::bind));
  REQUIRE(list.size() == 1);
  CHECK(list[0].family == AddressFamily::unspecified);
  CHECK(list[0].port == 80);

  list = ok(parse_address_list(":443", AddressUse::bind));
  CHECK(list[0].host.empty());
  CHECK(list[0].port == 443);

  list = ok(parse_address_list("0.0.0.0:80,:8080", AddressUse::bind));
  REQUIRE(list.size() == 2);
  CHECK(list[0].family == AddressFamily::ipv4);
  CHECK(list[1].port == 8080);

  list = ok(parse_address_list("[::1]:443", AddressUse::bind));
  CHECK(list[0].family == AddressFamily::ipv6);
  CHECK(list[0].host == "::1");

  list = ok(parse_address_list("ipv6@:::443", AddressUse::bind));
  CHECK(list[0].family == AddressFamily::ipv6);
  CHECK(list[0].prefix == "ipv6");

  list = ok(parse_address_list("127.0.0.1:8000-8010", AddressUse::bind));
  CHECK(list[0].port == 8000);
  CHECK(list[0].last_port == 8010);

  list = ok(parse_address_list("unix@/run/x.sock", AddressUse::bind));
  CHECK(list[0].family == AddressFamily::unix_path);
  list = ok(parse_address_list("/run/x.sock", AddressUse::bind));
  CHECK(list[0].family == AddressFamily::unix_path);
  list = ok(parse_address_list("fd@3", AddressUse::bind));
  CHECK(list[0].family == AddressFamily::fd);
}

TEST_CASE("bind address errors say what and where") {
  auto p = parse_address_list("127.0.0.1", AddressUse::bind);
  CHECK(err(p) == "missing port in address '127.0.0.1'");
  p = parse_address_list(":70000", AddressUse::bind);
  CHECK(err(p) == "port 70000 is out of range (1 to 65535)");
  CHECK(error_of(p)->offset == 1);
  p = parse_address_list(":80,:0", AddressUse::bind);
  CHECK(err(p) == "invalid port 0");
  CHECK(error_of(p)->offset == 5);
  CHECK(err(parse_address_list(":90-80", AddressUse::bind)) ==
        "port range 90-80 ends before it starts");
  CHECK(err(parse_address_list("[::1:80", AddressUse::bind)) == "missing ']' after IPv6 address");
  CHECK(err(parse_address_list("1.2.3.4.5:80", AddressUse::bind)).find("invalid address") == 0);
  CHECK(err(parse_address_list("foo@:80", AddressUse::bind)) == "unknown address prefix 'foo@'");
  CHECK(err(parse_address_list("ipv4@[::1]:80", AddressUse::bind)) ==
        "'ipv4@' given an IPv6 address");
}

TEST_CASE("address prefixes: stream+, forced families, QUIC and datagrams refused") {
  auto a = ok(parse_address("stream+ipv4@127.0.0.1:80", AddressUse::bind));
  CHECK(a.family == AddressFamily::ipv4);
  CHECK(a.port == 80);
  a = ok(parse_address("stream+unix@/run/x.sock", AddressUse::bind));
  CHECK(a.family == AddressFamily::unix_path);
  CHECK(a.host == "/run/x.sock");
  a = ok(parse_address("uxst@/run/y.sock", AddressUse::bind));
  CHECK(a.family == AddressFamily::unix_path);
  a = ok(parse_address("abns@name", AddressUse::bind));
  CHECK(a.family == AddressFamily::abstract);
  CHECK(a.host == "name");
  a = ok(parse_address("ipv6@:8080", AddressUse::bind));
  CHECK(a.family == AddressFamily::ipv6);
  CHECK(a.host == "::");
  a = ok(parse_address("ipv6@localhost:8080", AddressUse::bind));
  CHECK(a.family == AddressFamily::hostname);
  CHECK(a.resolve_as == AddressFamily::ipv6);
  a = ok(parse_address("stream+fd@4", AddressUse::bind));
  CHECK(a.family == AddressFamily::fd);
  CHECK(a.host == "4");
  CHECK(err(parse_address("quic4@:443", AddressUse::bind)) ==
        "'quic4@': QUIC listeners are not supported by sluice");
  CHECK(err(parse_address("quic+ipv6@:443", AddressUse::bind)).find("QUIC") != std::string::npos);
  CHECK(err(parse_address("sockpair@3", AddressUse::bind)).find("not supported by sluice") !=
        std::string::npos);
  CHECK(err(parse_address("udp@:514", AddressUse::bind)).find("datagram") != std::string::npos);
  CHECK(err(parse_address("fd@x", AddressUse::bind)) == "'fd@' expects a file descriptor number");
}

TEST_CASE("server addresses: hostnames, no port, offsets") {
  auto a = ok(parse_address("backend.local:8080", AddressUse::server));
  CHECK(a.family == AddressFamily::hostname);
  CHECK(a.port == 8080);
  a = ok(parse_address("10.0.0.1", AddressUse::server));
  CHECK_FALSE(a.has_port);
  a = ok(parse_address("10.0.0.1:+1000", AddressUse::server));
  CHECK(a.port_offset);
  CHECK(a.port == 1000);
  a = ok(parse_address("10.0.0.1:-5", AddressUse::server));
  CHECK(a.port == -5);
  CHECK(err(parse_address("10.0.0.1:80-90", AddressUse::server)) ==
        "port ranges are not allowed for a server");
}
