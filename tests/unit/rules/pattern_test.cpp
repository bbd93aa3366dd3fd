// The building blocks on their own: pattern parsers, the string set, header value splitting,
// the path of a request target.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "runtime/rules/fetch.hpp"
#include "runtime/rules/pattern.hpp"

using namespace sluice::rules;
using Op = sluice::config::IntOp;

namespace {

std::vector<std::string> split(std::string_view field) {
  std::vector<std::string> out;
  HeaderValues values(field);
  std::string_view v;
  while (values.next(v))
    out.emplace_back(v);
  return out;
}

}  // namespace

TEST_CASE("header values split like haproxy's http_find_header") {
  using V = std::vector<std::string>;
  CHECK(split("a") == V{"a"});
  CHECK(split("a, b ,c") == V{"a", "b", "c"});
  CHECK(split("a,,b") == V{"a", "", "b"});
  CHECK(split("a,") == V{"a", ""});
  CHECK(split("") == V{""});
  CHECK(split("  ") == V{""});
  CHECK(split("\"a,b\", c") == V{"\"a,b\"", "c"});
  CHECK(split("\"a\\\",b\",c") == V{"\"a\\\",b\"", "c"});
  CHECK(split("x\t,\ty") == V{"x", "y"});
}

TEST_CASE("the path of a request target") {
  CHECK(path_of_url("/a?b") == "/a?b");
  CHECK(path_of_url("http://h:80/a") == "/a");
  CHECK(path_of_url("https://user@h/") == "/");
  CHECK(path_of_url("http://h") == "");
  CHECK(path_of_url("*") == "");
  CHECK(path_of_url("h.example:443") == "");
  CHECK(path_of_url("") == "");
}

TEST_CASE("integer patterns") {
  auto r = parse_int_pattern("5", Op::none);
  CHECK((r.has_min && r.has_max && r.min == 5 && r.max == 5));
  r = parse_int_pattern("5:10", Op::none);
  CHECK((r.min == 5 && r.max == 10));
  r = parse_int_pattern("5-10", Op::none);
  CHECK((r.min == 5 && r.max == 10));
  r = parse_int_pattern(":10", Op::none);
  CHECK((!r.has_min && r.max == 10));
  r = parse_int_pattern("10:", Op::none);
  CHECK((r.min == 10 && !r.has_max));
  r = parse_int_pattern("5", Op::gt);
  CHECK((r.min == 6 && !r.has_max));
  r = parse_int_pattern("5", Op::lt);
  CHECK((r.max == 4 && !r.has_min));
  r = parse_int_pattern("5", Op::eq);
  CHECK((r.min == 5 && r.max == 5));
  r = parse_int_pattern("1:3", Op::gt);  // a range ignores the operator
  CHECK((r.min == 1 && r.max == 3));
  CHECK_THROWS_AS(parse_int_pattern("10:5", Op::none), CompileError);
  CHECK_THROWS_AS(parse_int_pattern("x", Op::none), CompileError);
  CHECK_THROWS_AS(parse_int_pattern(":", Op::none), CompileError);
  CHECK_THROWS_AS(parse_int_pattern("", Op::none), CompileError);
}

TEST_CASE("IP patterns") {
  IpAddress a;
  REQUIRE(parse_ip_text("192.168.1.77", a));
  CHECK(parse_ip_pattern("192.168.1.0/24").contains(a));
  CHECK(parse_ip_pattern("192.168.1.0/255.255.255.0").contains(a));
  CHECK(parse_ip_pattern("192.168.0.0/255.255.0.255").contains(a) == false);
  CHECK(parse_ip_pattern("192.168.0.77/255.255.0.255").contains(a));  // non-contiguous mask
  CHECK(parse_ip_pattern("192.168.1.77").contains(a));
  CHECK_FALSE(parse_ip_pattern("192.168.1.78").contains(a));
  CHECK(parse_ip_pattern("0.0.0.0/0").contains(a));
  CHECK(parse_ip_pattern("::/0").contains(a));  // the v4 sample seen as ::ffff:...
  REQUIRE(parse_ip_text("fe80::1:2", a));
  CHECK(parse_ip_pattern("fe80::/10").contains(a));
  CHECK_FALSE(parse_ip_pattern("fe80::1:3/128").contains(a));
  CHECK(parse_ip_pattern("fe80::1:3/127").contains(a));
  CHECK_FALSE(parse_ip_pattern("fe80::1:4/126").contains(a));
  CHECK_THROWS_AS(parse_ip_pattern("1.2.3.4/"), CompileError);
  CHECK_THROWS_AS(parse_ip_pattern("1.2.3.4/x"), CompileError);
  CHECK_THROWS_AS(parse_ip_pattern("fe80::/1.2.3.4"), CompileError);
  CHECK_FALSE(parse_ip_text("1.2.3", a));  // samples are strict dotted quads
}

TEST_CASE("the string set") {
  StringSet exact({"a", "bb", "bb", "ccc"}, false);
  CHECK(exact.size() == 3);
  CHECK(exact.contains("bb"));
  CHECK_FALSE(exact.contains("BB"));
  CHECK_FALSE(exact.contains(""));
  StringSet folded({"Www.Example.com"}, true);
  CHECK(folded.contains("WWW.EXAMPLE.COM"));
  CHECK_FALSE(folded.contains("www.example.co"));
  StringSet empty_string({""}, false);
  CHECK(empty_string.contains(""));
  CHECK_FALSE(StringSet().contains("x"));
}

TEST_CASE("fetch names resolve to one id, with their implied match") {
  REQUIRE(find_fetch("hdr_beg") != nullptr);
  CHECK(find_fetch("hdr_beg")->id == FetchId::hdr);
  CHECK(find_fetch("hdr_beg")->implied == sluice::config::Match::beg);
  CHECK(find_fetch("shdr")->id == FetchId::res_hdr);
  CHECK(find_fetch("req_ssl_sni")->id == FetchId::req_ssl_sni);
  CHECK(find_fetch("nope") == nullptr);
}
