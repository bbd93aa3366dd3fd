// Match methods and flags, each with a matching and a non-matching case. Expectations marked
// "haproxy 2.6" were observed on a running HAProxy 2.6.12 with the same ACL.
#include <doctest/doctest.h>

#include "tests/unit/rules/fake_facts.hpp"

using namespace sluice::rules;
using namespace sluice::rules::testing;
using M = sluice::config::Match;
using Op = sluice::config::IntOp;

namespace {

FakeFacts with_header(std::string name, std::string value) {
  FakeFacts f;
  f.header(std::move(name), std::move(value));
  return f;
}

bool hdr(const std::string& value, M match, std::vector<std::string> patterns, bool icase = false,
         Op op = Op::none) {
  FakeFacts f = with_header("X", value);
  return matches(acl_test("hdr", {"x"}, match, std::move(patterns), icase, op), f);
}

}  // namespace

TEST_CASE("str: exact, case-sensitive unless -i") {
  CHECK(hdr("www.example.com", M::none, {"www.example.com"}));
  CHECK(hdr("www.example.com", M::str, {"other", "www.example.com"}));
  CHECK_FALSE(hdr("WWW.example.com", M::str, {"www.example.com"}));
  CHECK(hdr("WWW.example.com", M::str, {"www.Example.com"}, true));
  CHECK_FALSE(hdr("www.example.com.", M::str, {"www.example.com"}, true));
  CHECK_FALSE(hdr("www", M::str, {}));
}

TEST_CASE("beg, end, sub, with and without -i") {
  CHECK(hdr("/api/v1", M::beg, {"/api"}));
  CHECK_FALSE(hdr("/ap", M::beg, {"/api"}));
  CHECK_FALSE(hdr("/API/v1", M::beg, {"/api"}));
  CHECK(hdr("/API/v1", M::beg, {"/api"}, true));
  CHECK(hdr("logo.PNG", M::end, {".png"}, true));
  CHECK_FALSE(hdr("logo.PNG", M::end, {".png"}));
  CHECK_FALSE(hdr("png", M::end, {".png"}));
  CHECK(hdr("Mozilla/5.0 (X11)", M::sub, {"x11"}, true));
  CHECK_FALSE(hdr("Mozilla/5.0 (X11)", M::sub, {"x11"}));
  CHECK(hdr("abc", M::sub, {"zz", "bc"}));
}

TEST_CASE("dir: slash-delimited words, as haproxy 2.6 matches them") {
  const std::string path = "/images/png/logo/32x32.png";
  for (const char* yes : {"/images", "/images/png", "images/png", "/png/logo", "logo/32x32.png",
                          "32x32.png", "png", "/png/logo/"})
    CHECK_MESSAGE(hdr(path, M::dir, {yes}), std::string(yes));
  for (const char* no : {"32x32", "imag", "s/png"})
    CHECK_FALSE_MESSAGE(hdr(path, M::dir, {no}), std::string(no));
  CHECK(hdr("/A/B", M::dir, {"b"}, true));
}

TEST_CASE("dom: words between . : / ? and the ends (configuration.txt 7.1.3)") {
  const std::string url = "http://www1.dc-eu.example.com:80/blah";
  for (const char* yes : {"http", "www1", ".www1", "dc-eu", "example", "com", "80", "dc-eu.example",
                          "blah", ":www1:", "example.com:80"})
    CHECK_MESSAGE(hdr(url, M::dom, {yes}), std::string(yes));
  // The manual lists "dc-eu.example:80" as matching; haproxy 2.6 does not match it (the
  // words must be contiguous in the sample), and neither does sluice.
  for (const char* no : {"eu", "dc", ".", "example.co", "dc-eu.example:80"})
    CHECK_FALSE_MESSAGE(hdr(url, M::dom, {no}), std::string(no));
  CHECK(hdr("WWW.Example.COM", M::dom, {"example"}, true));
  CHECK_FALSE(hdr("WWW.Example.COM", M::dom, {"example"}));
}

TEST_CASE("len: the sample's length as an integer, with ranges and operators") {
  CHECK(hdr("three", M::len, {"5"}));
  CHECK_FALSE(hdr("three", M::len, {"4"}));
  CHECK(hdr("three", M::len, {"4"}, false, Op::gt));
  CHECK_FALSE(hdr("three", M::len, {"5"}, false, Op::gt));
  CHECK(hdr("", M::len, {"0"}));
  CHECK(hdr("abc", M::len, {"1:3"}));
}

TEST_CASE("found: presence only, even empty; never for a missing sample") {
  FakeFacts f = with_header("Empty", "");
  CHECK(matches(acl_test("hdr", {"empty"}, M::found, {}), f));
  CHECK_FALSE(matches(acl_test("hdr", {"nope"}, M::found, {}), f));
  CHECK(matches(acl_test("hdr", {"nope"}, M::found, {}), f, Side::request, true));
}

TEST_CASE("reg: PCRE2, -i caseless, a bad regex is a compile error") {
  CHECK(hdr("http://x", M::reg, {"^[^/:]*://"}));
  CHECK_FALSE(hdr("/x", M::reg, {"^[^/:]*://"}));
  CHECK(hdr("HTTP://x", M::reg, {"^http"}, true));
  CHECK_FALSE(hdr("HTTP://x", M::reg, {"^http"}));
  CHECK(hdr("", M::reg, {"^$"}));
  CHECK(hdr("a(b)c", M::reg, {"nomatch", "\\(b\\)"}));
  CHECK_THROWS_AS(compile(condition_of(acl_test("hdr", {"x"}, M::reg, {"(unclosed"}))),
                  CompileError);
  CHECK(check(acl_test("hdr", {"x"}, M::reg, {"(unclosed"})).find("regex") != std::string::npos);
  CHECK(check(acl_test("hdr", {"x"}, M::reg, {"ok"})).empty());
}

TEST_CASE("int: default for integer fetches; ranges N:M :M N: and haproxy's '-' separator") {
  FakeFacts f;
  f.values[FetchId::dst_port] = Value::integer_of(8443);
  auto port = [&](std::vector<std::string> p, Op op = Op::none) {
    return matches(acl_test("dst_port", {}, M::none, std::move(p), false, op), f);
  };
  CHECK(port({"80", "8443"}));
  CHECK_FALSE(port({"80"}));
  CHECK(port({"8000:9000"}));
  CHECK_FALSE(port({"9000:10000"}));
  CHECK(port({":8443"}));
  CHECK_FALSE(port({":8442"}));
  CHECK(port({"8443:"}));
  CHECK_FALSE(port({"8444:"}));
  CHECK(port({"8000-9000"}));  // haproxy 2.6: '-' separates a range too
  CHECK(port({"-9000"}));      // ... so "-9000" is ":9000"
  CHECK_FALSE(port({"-8000"}));
}

TEST_CASE("int operators apply to every plain value that follows") {
  FakeFacts f;
  f.values[FetchId::src_port] = Value::integer_of(10);
  auto port = [&](Op op, std::vector<std::string> p) {
    return matches(acl_test("src_port", {}, M::none, std::move(p), false, op), f);
  };
  CHECK(port(Op::eq, {"10"}));
  CHECK_FALSE(port(Op::eq, {"11"}));
  CHECK(port(Op::ge, {"10"}));
  CHECK_FALSE(port(Op::ge, {"11"}));
  CHECK(port(Op::gt, {"9"}));
  CHECK_FALSE(port(Op::gt, {"10"}));
  CHECK(port(Op::le, {"10"}));
  CHECK_FALSE(port(Op::le, {"9"}));
  CHECK(port(Op::lt, {"11"}));
  CHECK_FALSE(port(Op::lt, {"10"}));
  CHECK(port(Op::gt, {"70000", "1"}));  // haproxy 2.6: "gt 70000 1" is "70001:" or "2:"
  CHECK_FALSE(port(Op::lt, {"1", "2"}));
}

TEST_CASE("an operator before a value containing '-' is ignored, as haproxy 2.6 does") {
  FakeFacts f;
  f.values[FetchId::src_port] = Value::integer_of(0);
  // `lt -5` is the range ":5", so 0 matches (observed: hdr(x-z) -m int lt -5 with x-z: 0).
  CHECK(matches(acl_test("src_port", {}, M::none, {"-5"}, false, Op::lt), f));
  f.values[FetchId::src_port] = Value::integer_of(6);
  CHECK_FALSE(matches(acl_test("src_port", {}, M::none, {"-5"}, false, Op::lt), f));
}

TEST_CASE("int on strings reads leading digits; bool is non-zero") {
  CHECK(hdr("12abc", M::integer, {"5"}, false, Op::gt));  // haproxy 2.6
  CHECK(hdr("-7", M::integer, {"-8"}));                   // "-8" is ":8"
  // haproxy 2.6 refuses negative ranges: '-' first makes "10:-5" the maximum.
  CHECK_THROWS_AS(hdr("-7", M::integer, {"-10:-5"}), CompileError);
  CHECK(hdr("abc", M::integer, {"0"}));  // no digits reads as 0
  CHECK(hdr("12abc", M::boolean, {}));
  CHECK_FALSE(hdr("0", M::boolean, {}));
  CHECK_FALSE(hdr("", M::boolean, {}));  // an empty string has no integer
}

TEST_CASE("bool: a boolean fetch matches when true, patterns ignored") {
  FakeFacts f;
  f.values[FetchId::ssl_fc] = Value::boolean_of(true);
  CHECK(matches(acl_test("ssl_fc", {}, M::none, {}), f));
  CHECK(matches(acl_test("ssl_fc", {}, M::none, {"ignored"}), f));
  f.values[FetchId::ssl_fc] = Value::boolean_of(false);
  CHECK_FALSE(matches(acl_test("ssl_fc", {}, M::none, {}), f));
  CHECK(matches(acl_test("ssl_fc", {}, M::none, {}), f, Side::request, true));
  // haproxy 2.6: false is the integer 0 and the string "0"; it is still found.
  CHECK(matches(acl_test("ssl_fc", {}, M::integer, {"0"}), f));
  CHECK(matches(acl_test("ssl_fc", {}, M::str, {"0"}), f));
  CHECK(matches(acl_test("ssl_fc", {}, M::found, {}), f));
  f.values.erase(FetchId::ssl_fc);
  CHECK_FALSE(matches(acl_test("ssl_fc", {}, M::none, {}), f));
  CHECK(matches(acl_test("always_true", {}, M::none, {}), f));
  CHECK_FALSE(matches(acl_test("always_false", {}, M::none, {}), f));
}

TEST_CASE("integer fetches under other methods: bool, ip, len, str") {
  FakeFacts f;
  f.values[FetchId::nbsrv] = Value::integer_of(1);
  CHECK(matches(acl_test("nbsrv", {"be"}, M::boolean, {}), f));
  CHECK(matches(acl_test("nbsrv", {"be"}, M::ip, {"0.0.0.1"}), f));  // haproxy 2.6
  CHECK(matches(acl_test("nbsrv", {"be"}, M::len, {"1"}), f));
  CHECK(matches(acl_test("nbsrv", {"be"}, M::str, {"1"}), f));
  CHECK(f.seen_args.back() == std::vector<std::string>{"be"});
  f.values[FetchId::nbsrv] = Value::integer_of(0);
  CHECK_FALSE(matches(acl_test("nbsrv", {"be"}, M::boolean, {}), f));
}

TEST_CASE("ip: addresses, CIDR and dotted masks, v4/v6 crossings as haproxy") {
  FakeFacts f;
  auto src = [&](const char* text, std::vector<std::string> p) {
    IpAddress a;
    REQUIRE(parse_ip_text(text, a));
    f.values[FetchId::src] = Value::address_of(a);
    return matches(acl_test("src", {}, M::none, std::move(p)), f);
  };
  CHECK(src("10.1.2.3", {"10.1.2.3"}));
  CHECK_FALSE(src("10.1.2.4", {"10.1.2.3"}));
  CHECK(src("10.1.2.3", {"10.0.0.0/8"}));
  CHECK_FALSE(src("11.1.2.3", {"10.0.0.0/8"}));
  CHECK(src("10.1.2.3", {"10.1.0.0/255.255.0.0"}));
  CHECK_FALSE(src("10.2.2.3", {"10.1.0.0/255.255.0.0"}));
  CHECK(src("10.1.2.3", {"0.0.0.0/0"}));
  CHECK(src("10.0.2.3", {"10.1/16"}));  // short form: 10.1 is 10.0.0.1
  CHECK_FALSE(src("10.1.2.3", {"10.1/16"}));
  CHECK(src("2001:db8::1", {"2001:db8::/32"}));
  CHECK_FALSE(src("2001:db9::1", {"2001:db8::/32"}));
  CHECK(src("::1", {"::1"}));
  // IPv4 pattern, IPv6 sample: ::ffff:a.b.c.d, ::a.b.c.d and 2002:AABB:CCDD:: forms.
  CHECK(src("::ffff:10.1.2.3", {"10.0.0.0/8"}));
  CHECK(src("::10.1.2.3", {"10.0.0.0/8"}));
  CHECK(src("2002:a01:203::", {"10.0.0.0/8"}));
  CHECK_FALSE(src("2001:db8::a01:203", {"10.0.0.0/8"}));
  // IPv6 pattern, IPv4 sample: seen as ::ffff:a.b.c.d.
  CHECK(src("10.1.2.3", {"::ffff:10.0.0.0/104"}));
  CHECK_FALSE(src("10.1.2.3", {"::10.0.0.0/104"}));
  CHECK_THROWS_AS(compile(condition_of(acl_test("src", {}, M::none, {"10.0.0.0/33"}))),
                  CompileError);
  CHECK_THROWS_AS(compile(condition_of(acl_test("src", {}, M::none, {"::1/129"}))), CompileError);
  CHECK_THROWS_AS(compile(condition_of(acl_test("src", {}, M::none, {"example.com"}))),
                  CompileError);
}

TEST_CASE("ip on strings parses the text; non-addresses never match") {
  CHECK(hdr("10.1.2.3", M::ip, {"10.0.0.0/8"}));
  CHECK(hdr("::ffff:10.1.2.3", M::ip, {"10.0.0.0/8"}));
  CHECK_FALSE(hdr("www.example.com", M::ip, {"0.0.0.0/0"}));
  CHECK_FALSE(hdr("10.1.2.3:80", M::ip, {"0.0.0.0/0"}));
}

TEST_CASE("addresses under string methods are their text") {
  FakeFacts f;
  f.values[FetchId::src] = Value::address_of(IpAddress::v4(0x7f000001));
  CHECK(matches(acl_test("src", {}, M::beg, {"127."}), f));
  CHECK(matches(acl_test("src", {}, M::integer, {"2130706433"}), f));  // haproxy 2.6
  CHECK_FALSE(matches(acl_test("src", {}, M::beg, {"10."}), f));
}

TEST_CASE("method: known methods compare exactly, others honour -i (haproxy 2.6)") {
  auto method = [](const char* m, std::vector<std::string> p, bool icase = false,
                   M match = M::none) {
    FakeFacts f;
    f.text(FetchId::method, m);
    return matches(acl_test("method", {}, match, std::move(p), icase), f);
  };
  CHECK(method("GET", {"GET"}));
  CHECK(method("GET", {"GET"}, true));
  CHECK_FALSE(method("GET", {"get"}, true));
  CHECK_FALSE(method("GET", {"get"}));
  CHECK(method("get", {"get"}));
  CHECK(method("get", {"get"}, true));
  CHECK_FALSE(method("get", {"GET"}, true));
  CHECK(method("FOO", {"foo"}, true));
  CHECK(method("FOO", {"FOO"}));
  CHECK_FALSE(method("FOO", {"foo"}));
  CHECK(method("PATCH", {"patch"}, true));      // not a method haproxy 2.6 knows by name
  CHECK(method("GET", {"get"}, true, M::str));  // -m str: a plain string match
  CHECK(method("GET", {"G"}, false, M::beg));
  CHECK_THROWS_AS(compile(condition_of(acl_test("method", {}, M::integer, {"1"}))), CompileError);
}

TEST_CASE("binary fetches need -m; serials match as their bytes") {
  FakeFacts f;
  f.values[FetchId::ssl_c_serial] = Value::binary_of(f.keep(std::string("\x01\x02", 2)));
  CHECK_THROWS_AS(compile(condition_of(acl_test("ssl_c_serial", {}, M::none, {"x"}))),
                  CompileError);
  CHECK(matches(acl_test("ssl_c_serial", {}, M::len, {"2"}), f));
  CHECK(matches(acl_test("ssl_c_serial", {}, M::found, {}), f));
  CHECK(matches(acl_test("ssl_c_serial", {}, M::str, {"\x01\x02"}), f));
  std::string long_serial(100, 'a');  // longer than any integer or address text
  f.values[FetchId::ssl_c_serial] = Value::binary_of(f.keep(long_serial + '\0' + "tail"));
  CHECK(matches(acl_test("ssl_c_serial", {}, M::str, {long_serial}), f));  // up to the NUL
  CHECK_THROWS_AS(compile(condition_of(acl_test("ssl_c_serial", {}, M::integer, {"1"}))),
                  CompileError);
}
