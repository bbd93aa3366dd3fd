// Conditions (and, or, !, unless, named ACLs), fetch semantics (header values, occurrences,
// path/query/base), converters, sides, missing samples, large pattern sets.
#include <doctest/doctest.h>

#include <string>
#include <thread>

#include "tests/unit/rules/fake_facts.hpp"

using namespace sluice::rules;
using namespace sluice::rules::testing;
namespace config = sluice::config;
using M = config::Match;
using sluice::config::Condition;

namespace {

config::AclTest host_is(const char* h) {
  return acl_test("hdr", {"host"}, M::none, {h}, true);
}
config::AclTest path_beg(const char* p) {
  return acl_test("path_beg", {}, M::beg, {p});
}

bool eval(const Condition& c, Facts& f) {
  static char scratch[16384];
  return compile(c).matches(f, scratch);
}

}  // namespace

TEST_CASE("terms are and-ed, groups or-ed, ! negates a term, unless the whole") {
  FakeFacts f;
  f.header("Host", "www.example.com");
  f.url("/api/x");
  auto yes = acl_of({host_is("www.example.com")});
  auto no = acl_of({host_is("other")});
  auto cond = [](std::vector<std::vector<config::ConditionTerm>> groups, bool unless = false) {
    Condition c;
    c.unless = unless;
    c.any_of = std::move(groups);
    return c;
  };
  CHECK(eval(cond({{{false, yes}, {false, yes}}}), f));
  CHECK_FALSE(eval(cond({{{false, yes}, {false, no}}}), f));
  CHECK(eval(cond({{{false, no}}, {{false, yes}}}), f));
  CHECK_FALSE(eval(cond({{{false, no}}, {{false, no}}}), f));
  CHECK(eval(cond({{{false, yes}, {true, no}}}), f));
  CHECK_FALSE(eval(cond({{{true, yes}}}), f));
  CHECK_FALSE(eval(cond({{{false, yes}}}, true), f));
  CHECK(eval(cond({{{false, no}}}, true), f));
  CHECK(eval(cond({{{false, no}, {false, yes}}, {{true, no}}}), f));
}

TEST_CASE("a named ACL of several lines is the or of its tests") {
  FakeFacts f;
  f.url("/img/a.png");
  auto statics = acl_of({path_beg("/static"), acl_test("path_end", {}, M::end, {".png", ".js"})},
                        "url_static");
  Condition c;
  c.any_of.push_back({{false, statics}});
  CHECK(eval(c, f));
  f.url("/img/a.gif");
  CHECK_FALSE(eval(c, f));
  f.url("/static/a.gif");
  CHECK(eval(c, f));
}

TEST_CASE("the benchmark condition: { hdr(host) -i www.example.com } || { path_beg /api }") {
  Condition c;
  c.any_of.push_back({{false, acl_of({host_is("www.example.com")})}});
  c.any_of.push_back({{false, acl_of({path_beg("/api")})}});
  FakeFacts f;
  f.header("Host", "WWW.Example.com");
  f.url("/");
  CHECK(eval(c, f));
  FakeFacts g;
  g.header("Host", "other");
  g.url("/api/v1?x");
  CHECK(eval(c, g));
  g.url("/apx");
  CHECK_FALSE(eval(c, g));
}

TEST_CASE("a missing sample fails its test, so its negation passes") {
  FakeFacts f;
  f.http_request = false;  // TCP mode: no HTTP message at all
  CHECK_FALSE(matches(host_is("x"), f));
  CHECK(matches(host_is("x"), f, Side::request, true));
  CHECK_FALSE(matches(acl_test("hdr_cnt", {"host"}, M::none, {"0"}), f));
  CHECK_FALSE(matches(acl_test("ssl_fc_sni", {}, M::found, {}), f));
  CHECK(matches(acl_test("ssl_fc_sni", {}, M::found, {}), f, Side::request, true));
  CHECK_FALSE(matches(path_beg("/"), f));
}

TEST_CASE("hdr in an ACL sees every comma-separated value of every occurrence") {
  FakeFacts f;
  f.header("X-M", "one, two");
  f.header("x-m", "three");
  f.header("X-Q", "\"a,b\", c");
  f.header("X-T", "a,");
  auto x = [&](std::vector<std::string> args, const char* p, M m = M::none) {
    return matches(acl_test("hdr", std::move(args), m, {p}), f);
  };
  CHECK(x({"x-m"}, "one"));
  CHECK(x({"X-M"}, "two"));
  CHECK(x({"x-m"}, "three"));
  CHECK_FALSE(x({"x-m"}, "one, two"));
  CHECK(x({"x-m", "2"}, "two"));  // an explicit occurrence picks that value only
  CHECK_FALSE(x({"x-m", "1"}, "two"));
  CHECK(x({"x-m", "-1"}, "three"));
  CHECK(x({"x-m", "-3"}, "one"));
  CHECK_FALSE(x({"x-m", "-4"}, "one"));
  CHECK_FALSE(x({"x-m", "4"}, "one"));
  CHECK(x({"x-q"}, "\"a,b\""));  // commas inside quotes do not split
  CHECK(x({"x-q"}, "c"));
  CHECK(x({"x-t"}, "a"));
  CHECK(matches(acl_test("hdr_cnt", {"x-t"}, M::none, {"2"}), f));  // "a," is two values
  CHECK(x({""}, "c"));                                              // hdr(): every header
  CHECK_FALSE(matches(acl_test("hdr", {}, M::found, {}), f));       // bare hdr: no sample
  CHECK(matches(acl_test("hdr", {""}, M::found, {}), f));
  CHECK_THROWS_AS(x({"x-m", "two"}, "x"), CompileError);
}

TEST_CASE("hdr_cnt counts values; without a name, every header's") {
  FakeFacts f;
  f.header("X-M", "one, two");
  f.header("X-M", "three");
  f.header("Host", "h");
  CHECK(matches(acl_test("hdr_cnt", {"x-m"}, M::none, {"3"}), f));
  CHECK(matches(acl_test("req.hdr_cnt", {"nope"}, M::none, {"0"}), f));
  CHECK(matches(acl_test("hdr_cnt", {}, M::none, {"4"}), f));
  CHECK_FALSE(matches(acl_test("hdr_cnt", {"x-m"}, M::none, {"2"}), f));
}

TEST_CASE("path, query, url and base are cut from the request target as haproxy does") {
  FakeFacts f;
  f.header("Host", "h.example, other");
  f.url("http://h.example/a/b?c=1");
  auto t = [&](const char* fetch, const char* p) {
    return matches(acl_test(fetch, {}, M::str, {p}), f);
  };
  CHECK(t("path", "/a/b"));
  CHECK(t("query", "c=1"));
  CHECK(t("url", "http://h.example/a/b?c=1"));
  CHECK(t("base", "h.example/a/b"));  // first Host value, then the path
  f.url("/p?");
  CHECK(t("query", ""));
  CHECK(t("base", "h.example/p"));
  f.url("/p");
  CHECK_FALSE(matches(acl_test("query", {}, M::found, {}), f));
  f.url("*");
  CHECK_FALSE(matches(acl_test("path", {}, M::found, {}), f));
  CHECK(t("base", "h.example"));
  FakeFacts nohost;
  nohost.url("/x?y");
  CHECK(matches(acl_test("base", {}, M::str, {"/x"}), nohost));  // no Host: the path
  CHECK(matches(acl_test("base_beg", {}, M::beg, {"/x"}), nohost));
}

TEST_CASE("converters: lower/upper, and a converter drops a keyword's implied match") {
  FakeFacts f;
  f.header("Host", "WWW.Example.COM:8080");
  f.values[FetchId::src] = Value::address_of(IpAddress::v4(0x7f000001));
  auto lowered = acl_test("hdr", {"host"}, M::none, {"www.example.com:8080"}, false,
                          config::IntOp::none, {"lower"});
  CHECK(matches(lowered, f));
  lowered.sample.converters = {"upper"};
  CHECK_FALSE(matches(lowered, f));
  lowered.patterns = {"WWW.EXAMPLE.COM:8080"};
  CHECK(matches(lowered, f));
  lowered.sample.converters = {"upper", "lower"};  // the last one wins
  CHECK_FALSE(matches(lowered, f));
  // haproxy 2.6: `hdr_beg(host),lower X` matches X exactly, not as a prefix.
  auto derived =
      acl_test("hdr_beg", {"host"}, M::beg, {"www."}, false, config::IntOp::none, {"lower"});
  CHECK_FALSE(matches(derived, f));
  derived.patterns = {"www.example.com:8080"};
  CHECK(matches(derived, f));
  // A converter makes any sample a string.
  CHECK(matches(acl_test("src", {}, M::none, {"127.0.0.1"}, false, config::IntOp::none, {"lower"}),
                f));
}

TEST_CASE("converted values need scratch room; without it they are no sample") {
  FakeFacts f;
  f.header("Host", "WWW.EXAMPLE.COM");
  auto c = compile(condition_of(acl_test("hdr", {"host"}, M::none, {"www.example.com"}, false,
                                         config::IntOp::none, {"lower"})));
  char small[4];
  CHECK_FALSE(c.matches(f, small));
  char enough[64];
  CHECK(c.matches(f, enough));
}

TEST_CASE("sides: an ACL in a response rule cannot read the request, and the reverse") {
  FakeFacts f;
  f.header("Host", "h");
  f.response_header("X-Multi", "a, b");
  f.values[FetchId::status] = Value::integer_of(200);
  CHECK(matches(acl_test("res.hdr", {"x-multi"}, M::none, {"b"}), f, Side::response));
  CHECK(matches(acl_test("shdr", {"x-multi"}, M::none, {"a"}), f, Side::response));
  CHECK(matches(acl_test("status", {}, M::none, {"200"}), f, Side::response));
  CHECK_FALSE(matches(acl_test("status", {}, M::none, {"200"}), f, Side::request));
  CHECK_FALSE(matches(acl_test("res.hdr", {"x-multi"}, M::found, {}), f, Side::request));
  // haproxy 2.6 warns "acl will never match" for hdr in http-response rules; `!` of it passes.
  CHECK_FALSE(matches(acl_test("hdr", {"x-multi"}, M::found, {}), f, Side::response));
  CHECK(matches(acl_test("hdr", {"x-multi"}, M::found, {}), f, Side::response, true));
  CHECK_FALSE(matches(acl_test("hdr_cnt", {"x-multi"}, M::found, {}), f, Side::response));
  CHECK_FALSE(matches(acl_test("path", {}, M::found, {}), f, Side::response));
  CHECK(matches(acl_test("hdr", {"host"}, M::none, {"h"}), f, Side::request));
}

TEST_CASE("a fetch that may still get its data makes the verdict a miss until final") {
  FakeFacts f;
  f.pending.insert(FetchId::req_ssl_sni);
  auto c = compile(condition_of(acl_test("req.ssl_sni", {}, M::none, {"a.example"})));
  char scratch[256];
  CHECK(c.evaluate(f, scratch, false) == Verdict::miss);
  CHECK(c.evaluate(f, scratch, true) == Verdict::fail);
  auto negated = compile(condition_of(acl_test("req.ssl_sni", {}, M::none, {"a.example"}), true));
  CHECK(negated.evaluate(f, scratch, false) == Verdict::miss);
  CHECK(negated.matches(f, scratch));
  f.pending.clear();
  f.text(FetchId::req_ssl_sni, "a.example");
  CHECK(c.evaluate(f, scratch, false) == Verdict::pass);
  // or: a pass anywhere wins over a miss; and: a fail anywhere wins over a miss.
  f.values.erase(FetchId::req_ssl_sni);
  f.pending.insert(FetchId::req_ssl_sni);
  Condition either = condition_of(acl_test("req.ssl_sni", {}, M::none, {"a.example"}));
  either.any_of.push_back({{false, acl_of({acl_test("always_true", {}, M::none, {})})}});
  CHECK(compile(either).evaluate(f, scratch, false) == Verdict::pass);
  Condition both = condition_of(acl_test("req.ssl_sni", {}, M::none, {"a.example"}));
  both.any_of[0].push_back({false, acl_of({acl_test("always_false", {}, M::none, {})})});
  CHECK(compile(both).evaluate(f, scratch, false) == Verdict::fail);
}

TEST_CASE("groups stop at the first failing term (no fetch for the rest)") {
  FakeFacts f;
  f.url("/x");
  Condition c = condition_of(acl_test("always_false", {}, M::none, {}));
  c.any_of[0].push_back({false, acl_of({acl_test("url", {}, M::none, {"/x"})})});
  CHECK_FALSE(eval(c, f));
  CHECK(f.fetch_calls == 0);
}

TEST_CASE("a -f file of 100k exact strings is a hash lookup, with or without -i") {
  std::vector<std::string> hosts;
  for (int i = 0; i < 100000; ++i)
    hosts.push_back(std::string("host").append(std::to_string(i)).append(".example.com"));
  FakeFacts f;
  f.header("Host", "HOST77777.example.com");
  auto t = acl_test("hdr", {"host"}, M::none, hosts, true);
  CHECK(matches(t, f));
  t.ignore_case = false;
  CHECK_FALSE(matches(t, f));
  FakeFacts g;
  g.header("Host", "host99999.example.com");
  CHECK(matches(t, g));
  FakeFacts h;
  h.header("Host", "host100000.example.com");
  CHECK_FALSE(matches(t, h));
}

TEST_CASE("many prefixes and suffixes: one probe per distinct length") {
  std::vector<std::string> prefixes;
  for (int i = 0; i < 1000; ++i)
    prefixes.push_back(std::string("/p").append(std::to_string(i)).append("/"));
  FakeFacts f;
  f.url("/p512/index.html");
  CHECK(matches(acl_test("path_beg", {}, M::beg, prefixes), f));
  f.url("/P512/index.html");
  CHECK_FALSE(matches(acl_test("path_beg", {}, M::beg, prefixes), f));
  CHECK(matches(acl_test("path_beg", {}, M::beg, prefixes, true), f));
  f.url("/p1000/x");
  CHECK_FALSE(matches(acl_test("path_beg", {}, M::beg, prefixes), f));
  std::vector<std::string> suffixes;
  for (int i = 0; i < 1000; ++i)
    suffixes.push_back(std::string(".").append(std::to_string(i)));
  f.url("/file.999");
  CHECK(matches(acl_test("path_end", {}, M::end, suffixes), f));
  f.url("/file.1000x");
  CHECK_FALSE(matches(acl_test("path_end", {}, M::end, suffixes), f));
}

TEST_CASE("named ACLs compile once per side in a Compiler") {
  auto shared = acl_of({host_is("a")}, "host_a");
  Condition c1, c2;
  c1.any_of.push_back({{false, shared}});
  c2.any_of.push_back({{true, shared}});
  Compiler compiler;
  auto a = compiler.acl(*shared, Side::request);
  CHECK(compiler.acl(*shared, Side::request) == a);
  CHECK(compiler.acl(*shared, Side::response) != a);
  FakeFacts f;
  f.header("host", "A");
  char scratch[64];
  CHECK(compiler.condition(c1, Side::request).matches(f, scratch));
  CHECK_FALSE(compiler.condition(c2, Side::request).matches(f, scratch));
}

TEST_CASE("one compiled condition serves several threads at once") {
  Condition c = condition_of(acl_test("path", {}, M::reg, {"^/api/v[0-9]+/"}, true));
  c.any_of[0].push_back({false, acl_of({host_is("www.example.com")})});
  const CompiledCondition compiled = compile(c);
  auto worker = [&](const char* path, bool expected, int& failures) {
    FakeFacts f;
    f.header("Host", "www.example.com");
    f.url(path);
    char scratch[256];
    for (int i = 0; i < 2000; ++i)
      failures += compiled.matches(f, scratch) != expected;
  };
  int failures_a = 0, failures_b = 0;
  std::thread a(worker, "/API/V2/x", true, std::ref(failures_a));
  std::thread b(worker, "/api/x", false, std::ref(failures_b));
  a.join();
  b.join();
  CHECK(failures_a == 0);
  CHECK(failures_b == 0);
}
