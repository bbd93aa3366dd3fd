// runtime/health's HTTP check: the request bytes and the verdicts, worded as HAProxy 2.6.12
// logs them (checked side by side).
#include <doctest/doctest.h>

#include "runtime/health/http_check.hpp"

using sluice::health::describe;
using sluice::health::HttpCheck;

namespace {

sluice::config::HttpCheck check(std::string kind = {}, std::string pattern = {},
                                bool negated = false) {
  sluice::config::HttpCheck c;
  if (!kind.empty()) c.expect = {negated, std::move(kind), std::move(pattern)};
  return c;
}

}  // namespace

TEST_CASE("the request: HTTP/1.0 bare, HTTP/1.1 with lower-case headers and a close") {
  CHECK(HttpCheck(check()).request() == "OPTIONS / HTTP/1.0\r\n\r\n");
  auto c = check();
  c.method = "GET";
  c.uri = "/h";
  c.version = "HTTP/1.1";
  c.headers = {{"Host", "example.com"}};
  CHECK(HttpCheck(c).request() ==
        "GET /h HTTP/1.1\r\nhost: example.com\r\nconnection: close\r\n\r\n");
  c.body = "ping";
  CHECK(HttpCheck(c).request() ==
        "GET /h HTTP/1.1\r\nhost: example.com\r\ncontent-length: "
        "4\r\nconnection: close\r\n\r\nping");
}

TEST_CASE("without expect: 2xx and 3xx pass, the rest is a wrong status") {
  const HttpCheck h(check());
  auto v = h.judge("HTTP/1.1 302 Found\r\n\r\n", false);
  REQUIRE(v);
  CHECK(v->passed);
  CHECK(v->code == 302);
  CHECK(v->info.empty());
  v = h.judge("HTTP/1.1 500 Internal Server Error\r\n", false);
  REQUIRE(v);
  CHECK_FALSE(v->passed);
  CHECK(describe(v->status) == "Layer7 wrong status");
  CHECK(v->info == "Internal Server Error");
  CHECK_FALSE(h.judge("HTTP/1.1 20", false));  // more may come
  v = h.judge("garbage\r\n\r\n", false);
  REQUIRE(v);
  CHECK(describe(v->status) == "Layer7 invalid response");
  CHECK(v->code == 0);
  v = h.judge("HTTP/1.1", true);  // closed before a status line
  REQUIRE(v);
  CHECK(describe(v->status) == "Layer7 invalid response");
}

TEST_CASE("expect status lists and ranges, rstatus, and their negation") {
  CHECK(HttpCheck(check("status", "200,204-206")).judge("HTTP/1.0 205 X\r\n", false)->passed);
  CHECK_FALSE(HttpCheck(check("status", "200")).judge("HTTP/1.0 201 X\r\n", false)->passed);
  CHECK(HttpCheck(check("status", "500", true)).judge("HTTP/1.0 200 OK\r\n", false)->passed);
  CHECK(HttpCheck(check("rstatus", "^2")).judge("HTTP/1.0 204 X\r\n", false)->passed);
  CHECK_FALSE(HttpCheck(check("rstatus", "^2")).judge("HTTP/1.0 404 X\r\n", false)->passed);
}

TEST_CASE("expect string and rstring read the body to its length or the close") {
  const HttpCheck h(check("string", "alive"));
  const std::string head = "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n";
  CHECK_FALSE(h.judge(head + "I'm al", false));  // 6 of 9 bytes
  auto v = h.judge(head + "I'm alive", false);
  REQUIRE(v);
  CHECK(v->passed);
  v = h.judge("HTTP/1.0 200 OK\r\n\r\nI'm dead", true);
  REQUIRE(v);
  CHECK_FALSE(v->passed);
  CHECK(describe(v->status) == "Layer7 invalid response");
  CHECK(v->info == "HTTP content check did not match");
  CHECK(v->code == 0);
  CHECK(HttpCheck(check("rstring", "al+ive")).judge("HTTP/1.0 200 OK\r\n\r\nallive", true)->passed);
  CHECK(HttpCheck(check("string", "dead", true)).judge("HTTP/1.0 200 OK\r\n\r\nok", true)->passed);
}

TEST_CASE("an expect kind not served is refused when the check is built") {
  CHECK_THROWS_AS(HttpCheck(check("hdr", "name")), sluice::rules::CompileError);
}
