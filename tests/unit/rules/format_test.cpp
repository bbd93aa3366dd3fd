// Rendering log-format strings into header values and log lines. Header-value expectations
// were observed on haproxy 2.6.12 (http-request set-header against an echoing origin).
#include <doctest/doctest.h>

#include <string>

#include "runtime/rules/format.hpp"
#include "runtime/rules/pattern.hpp"
#include "tests/unit/rules/fake_facts.hpp"

using namespace sluice::rules;
using namespace sluice::rules::testing;
using sluice::config::Format;
using sluice::config::FormatPart;

namespace {

FormatPart lit(std::string s) {
  FormatPart p;
  p.kind = FormatPart::Kind::literal;
  p.text = std::move(s);
  return p;
}
FormatPart smp(std::string fetch, std::vector<std::string> args = {},
               std::vector<std::string> converters = {}) {
  FormatPart p;
  p.kind = FormatPart::Kind::sample;
  p.sample = {std::move(fetch), std::move(args), std::move(converters)};
  return p;
}
FormatPart alias(std::string name) {
  FormatPart p;
  p.kind = FormatPart::Kind::alias;
  p.text = std::move(name);
  return p;
}

std::string render_str(const Format& fmt, Facts& f, RenderMode mode = RenderMode::header,
                       Side side = Side::request, std::size_t size = 512) {
  auto compiled = CompiledFormat::compile(fmt, side);
  std::string out(size, '\0');
  auto r = compiled.render(f, out, mode);
  out.resize(r.size);
  return out;
}

FakeFacts request() {
  FakeFacts f;
  f.header("Host", "127.0.0.1:47381");
  f.header("X-M", "one, two");
  f.header("X-M", "three");
  f.header("Empty", "");
  f.url("/p/q?x=1");
  f.text(FetchId::method, "GET");
  f.values[FetchId::src] = Value::address_of(IpAddress::v4(0x7f000001));
  f.values[FetchId::src_port] = Value::integer_of(57790);
  f.values[FetchId::ssl_fc] = Value::boolean_of(false);
  return f;
}

}  // namespace

TEST_CASE("samples in header values, as haproxy 2.6 sends them") {
  FakeFacts f = request();
  CHECK(render_str({smp("req.hdr", {"nope"})}, f) == "");
  CHECK(render_str({lit("a"), smp("req.hdr", {"nope"}), lit("b")}, f) == "ab");
  CHECK(render_str({lit("<"), smp("req.hdr", {"empty"}), lit(">")}, f) == "<>");
  CHECK(render_str({smp("req.hdr", {"x-m"})}, f) == "three");  // the last value
  CHECK(render_str({smp("hdr", {"x-m", "1"})}, f) == "one");
  CHECK(render_str({smp("req.hdr", {"x-m", "-2"})}, f) == "two");
  CHECK(render_str({smp("src")}, f) == "127.0.0.1");
  CHECK(render_str({smp("src", {}, {"upper"})}, f) == "127.0.0.1");
  CHECK(render_str({smp("src_port", {}, {"lower"})}, f) == "57790");
  CHECK(render_str({smp("req.hdr_cnt", {"x-m"})}, f) == "3");
  CHECK(render_str({smp("base")}, f) == "127.0.0.1:47381/p/q");
  CHECK(render_str({smp("method")}, f) == "GET");
  CHECK(render_str({smp("ssl_fc")}, f) == "0");
  CHECK(render_str({smp("query")}, f) == "x=1");
  CHECK(render_str({smp("hdr", {""})}, f) == "");  // hdr(): the last value of any header
  CHECK(render_str({smp("hdr")}, f) == "");        // bare hdr: no sample
  CHECK(render_str({smp("str", {"lit"}, {"upper"})}, f) == "LIT");
  CHECK(render_str({smp("hdr", {"host"}, {"upper"})}, f) == "127.0.0.1:47381");
  CHECK(render_str({smp("path", {}, {"upper"})}, f) == "/P/Q");
  CHECK(render_str({smp("req.hdr", {"x-m", "-3"})}, f) == "one");
  CHECK(render_str({smp("req.hdr", {"x-m", "-4"})}, f) == "");
  CHECK(render_str({smp("req.hdr", {"x-m", "-11"})}, f) == "");  // beyond haproxy's history
  CHECK(render_str({smp("req.hdr", {"x-m", "2"})}, f) == "two");
  IpAddress v6;
  REQUIRE(parse_ip_text("2001:DB8::1", v6));
  f.values[FetchId::dst] = Value::address_of(v6);
  CHECK(render_str({smp("dst")}, f) == "2001:db8::1");
  CHECK(render_str({smp("dst", {}, {"upper"})}, f) == "2001:DB8::1");
  f.values[FetchId::dst] = Value::address_of(IpAddress::v4(0xff00000a));
  CHECK(render_str({smp("dst")}, f) == "255.0.0.10");
}

TEST_CASE("control characters of a sample become %XX in header values (haproxy 2.6)") {
  FakeFacts f;
  f.url("/p\x01q\x7f/q");
  CHECK(render_str({lit("<"), smp("path"), lit(">")}, f) == "</p%01q%7F/q>");
  CHECK(render_str({smp("path")}, f, RenderMode::log) == "/p\x01q\x7f/q");
  f.url("/a\tb");
  CHECK(render_str({smp("path")}, f) == "/a\tb");  // HTAB is allowed in a field value
}

TEST_CASE("log lines write '-' for a missing or empty sample") {
  FakeFacts f = request();
  CHECK(render_str({lit("x="), smp("req.hdr", {"nope"})}, f, RenderMode::log) == "x=-");
  CHECK(render_str({smp("str", {""})}, f, RenderMode::log) == "-");
  CHECK(render_str({smp("src")}, f, RenderMode::log) == "127.0.0.1");
}

TEST_CASE("a bare hdr reads the rule's message; in a response rule, the response") {
  FakeFacts f = request();
  f.response_header("X-Multi", "a, b");
  f.response_header("X-Multi", "c");
  CHECK(render_str({smp("hdr", {"x-multi"})}, f, RenderMode::header, Side::response) == "c");
  CHECK(render_str({smp("hdr", {"host"})}, f, RenderMode::header, Side::response) == "");
  CHECK(render_str({smp("res.hdr", {"x-multi", "1"})}, f, RenderMode::header, Side::response) ==
        "a");
}

TEST_CASE("aliases: from Facts, or derived from the URL and method") {
  FakeFacts f = request();
  f.vars[LogVar::client_ip] = Value::address_of(IpAddress::v4(0x7f000001));
  f.vars[LogVar::client_port] = Value::integer_of(57790);
  f.vars[LogVar::frontend_name] = Value::text_of("fe");
  f.vars[LogVar::backend_name] = Value::text_of("be");
  f.vars[LogVar::server_name] = Value::text_of("<NOSRV>");
  f.vars[LogVar::status_code] = Value::integer_of(-1);
  f.vars[LogVar::http_version] = Value::text_of("HTTP/1.1");
  f.vars[LogVar::timestamp] = Value::integer_of(1700000000);
  Format fmt;
  for (const char* a : {"ci", "cp", "f", "b", "s", "ST", "HM", "HU", "HV", "HP", "HQ", "Ts"}) {
    fmt.push_back(alias(a));
    fmt.push_back(lit("|"));
  }
  CHECK(render_str(fmt, f) ==
        "127.0.0.1|57790|fe|be|<NOSRV>|-1|GET|/p/q?x=1|HTTP/1.1|/p/q|?x=1|1700000000|");
  f.url("http://h/a?b");
  CHECK(render_str({alias("HPO"), lit(" "), alias("HP")}, f) == "/a http://h/a");
  f.url("/a");
  CHECK(render_str({lit("<"), alias("HQ"), lit(">")}, f) == "<>");
  CHECK(render_str({alias("ID")}, f, RenderMode::log) == "-");
  CHECK(render_str({alias("ID")}, f) == "");
  CHECK(render_str({alias("o"), lit("x")}, f) == "x");
  CHECK_THROWS_AS(CompiledFormat::compile({alias("nope")}, Side::request), CompileError);
}

TEST_CASE("dates and padded milliseconds") {
  FakeFacts f;
  // 2000-10-10 13:55:36.057 UTC
  f.vars[LogVar::gmt_date] = Value::time_of(971186136057000);
  f.vars[LogVar::request_gmt_date] = Value::time_of(971186136057000);
  f.vars[LogVar::accept_millis] = Value::integer_of(7);
  CHECK(render_str({alias("T")}, f) == "10/Oct/2000:13:55:36 +0000");
  CHECK(render_str({alias("trg")}, f) == "10/Oct/2000:13:55:36 +0000");
  CHECK(render_str({alias("ms")}, f) == "007");
  f.vars[LogVar::local_date_ms] = Value::time_of(971186136057000);
  std::string local = render_str({alias("t")}, f);
  CHECK(local.size() == std::string("10/Oct/2000:13:55:36.057").size());
  CHECK(local.substr(local.size() - 4) == ".057");
}

TEST_CASE("a buffer too small gets what fits, never half an escape") {
  FakeFacts f = request();
  Format fmt{lit("host="), smp("req.hdr", {"host"})};
  auto compiled = CompiledFormat::compile(fmt, Side::request);
  char out[8];
  auto r = compiled.render(f, out, RenderMode::header);
  CHECK(r.truncated);
  CHECK(r.size == 8);
  CHECK(std::string(out, r.size) == "host=127");
  char exact[20];
  r = compiled.render(f, exact);
  CHECK_FALSE(r.truncated);
  CHECK(std::string(exact, r.size) == "host=127.0.0.1:47381");
  r = compiled.render(f, std::span<char>());
  CHECK(r.truncated);
  CHECK(r.size == 0);

  FakeFacts g;
  g.url("/ab\x01");
  auto escaped = CompiledFormat::compile({smp("path")}, Side::request);
  char four[5];
  r = escaped.render(g, four);
  CHECK(r.truncated);
  CHECK(std::string(four, r.size) == "/ab");
  char six[6];
  r = escaped.render(g, six);
  CHECK_FALSE(r.truncated);
  CHECK(std::string(six, r.size) == "/ab%01");
}

TEST_CASE("a format without samples or aliases is a literal") {
  auto c = CompiledFormat::compile({lit("text/"), lit("plain")}, Side::request);
  CHECK(c.is_literal());
  CHECK(c.literal() == "text/plain");
  auto d = CompiledFormat::compile({lit("a"), smp("src")}, Side::request);
  CHECK_FALSE(d.is_literal());
  CHECK(find_log_var("HPO") == LogVar::http_path_only);
  CHECK_FALSE(find_log_var("Hx").has_value());
}
