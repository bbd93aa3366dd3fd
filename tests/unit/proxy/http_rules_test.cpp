// http-request / http-response / redirect rules and option forwardfor, compiled from config
// text and run on parsed messages: the exact heads and replies HAProxy 2.6 produces (each
// expectation was observed on haproxy 2.6.12 with the same rule and request).
#include <doctest/doctest.h>

#include <string>

#include "runtime/proxy/http_reply.hpp"
#include "tests/unit/proxy/http_test_support.hpp"

using namespace sluice;
using namespace sluice::proxy;
using proxy::testing::CompiledRules;
using proxy::testing::Exchange;

namespace {

constexpr const char* kGet = "GET /p?q=1 HTTP/1.1\r\nhost: h\r\n\r\n";

std::string reply_bytes(const RuleOutcome& outcome, const Exchange& x) {
  std::string out(4096, '\0');
  http::WriteResult r;
  ReplyFraming framing;
  if (outcome.action->kind == config::HttpAction::Kind::return_)
    r = write_return(outcome.status, outcome.action->content_type, outcome.body,
                     x.reply_headers.fields(), framing, out);
  else
    r = write_redirect(outcome.status, outcome.location, framing, out);
  REQUIRE(r.fits);
  out.resize(r.size);
  return out;
}

}  // namespace

TEST_CASE("set-header replaces every field of that name, whatever its case, at the end") {
  CompiledRules rules("  http-request set-header X-A new");
  Exchange x("GET / HTTP/1.1\r\nhost: h\r\nx-a: 1\r\nb: b\r\nx-a: 2\r\n\r\n");
  CHECK(x.run(rules.request).kind == RuleOutcome::Kind::proceed);
  CHECK(x.head() == "GET / HTTP/1.1\r\nhost: h\r\nb: b\r\nx-a: new\r\n\r\n");
}

TEST_CASE("set-header renders before deleting: the value may read the field it replaces") {
  CompiledRules rules("  http-request set-header X-A \"<%[req.hdr(x-a)]>\"");
  Exchange x("GET / HTTP/1.1\r\nx-a: old\r\n\r\n");
  CHECK(x.run(rules.request).kind == RuleOutcome::Kind::proceed);
  CHECK(x.head() == "GET / HTTP/1.1\r\nx-a: <old>\r\n\r\n");
}

TEST_CASE("add-header appends; samples come from the connection and the request") {
  CompiledRules rules(
      "  http-request add-header X-A \"%[src] %[method] %[path] %[url]\"\n"
      "  http-request add-header X-A second\n"
      "  http-request add-header X-Missing %[req.hdr(nope)]");
  Exchange x("GET /p?q=1 HTTP/1.1\r\nx-a: first\r\n\r\n");
  CHECK(x.run(rules.request).kind == RuleOutcome::Kind::proceed);
  // A sample without a value writes nothing: haproxy sends "x-missing: ".
  CHECK(x.head() ==
        "GET /p?q=1 HTTP/1.1\r\nx-a: first\r\nx-a: 192.0.2.7 GET /p /p?q=1\r\nx-a: second\r\n"
        "x-missing: \r\n\r\n");
}

TEST_CASE("del-header removes every occurrence, names compared without case") {
  CompiledRules rules("  http-request del-header x-a");
  Exchange x("GET / HTTP/1.1\r\nx-a: 1\r\nb: b\r\nx-a: 2\r\n\r\n");
  CHECK(x.run(rules.request).kind == RuleOutcome::Kind::proceed);
  CHECK(x.head() == "GET / HTTP/1.1\r\nb: b\r\n\r\n");
}

TEST_CASE("replace-header: a match anywhere replaces the whole value, with back-references") {
  // The observed haproxy 2.6 results: unanchored search, \0 the whole match, an unset group
  // empty, \xHH a byte, \q a plain q; fields that do not match are left alone.
  CompiledRules rules(
      "  http-request replace-header X-A curl foo\n"
      "  http-request replace-header X-B ^a(.*)b$ <\\\\1|\\\\2|\\\\0|\\\\x41|\\\\q>\n"
      "  http-request replace-header X-C (x)(y)? [\\\\2\\\\1%[path]]");
  Exchange x(
      "GET /p HTTP/1.1\r\nx-a: curl/7.4, curl\r\nx-a: wget\r\nx-a: xcurl\r\nx-b: a1b\r\n"
      "x-b: a1bc\r\nx-c: zxw\r\n\r\n");
  CHECK(x.run(rules.request).kind == RuleOutcome::Kind::proceed);
  CHECK(x.head() ==
        "GET /p HTTP/1.1\r\nx-a: foo\r\nx-a: wget\r\nx-a: foo\r\nx-b: <1||a1b|A|q>\r\n"
        "x-b: a1bc\r\nx-c: [x/p]\r\n\r\n");
}

TEST_CASE("replace-header matches case-sensitively") {
  CompiledRules rules("  http-request replace-header X-A ^abc$ z");
  Exchange x("GET / HTTP/1.1\r\nx-a: ABC\r\nx-a: abc\r\n\r\n");
  CHECK(x.run(rules.request).kind == RuleOutcome::Kind::proceed);
  CHECK(x.head() == "GET / HTTP/1.1\r\nx-a: ABC\r\nx-a: z\r\n\r\n");
}

TEST_CASE("set-path keeps the query string, and the scheme and authority of an absolute URI") {
  CompiledRules rules("  http-request set-path /new%[path]");
  struct Case {
    const char* target;
    const char* expected;
  };
  // As haproxy 2.6 forwards them.
  for (const auto& c : {Case{"/a?q=1", "/new/a?q=1"}, Case{"/a", "/new/a"}, Case{"/a?", "/new/a?"},
                        Case{"http://h/a?q=1", "http://h/new/a?q=1"},
                        Case{"https://h:8080/x?y", "https://h:8080/new/x?y"},
                        Case{"http://h", "/new"}, Case{"*", "/new"}}) {
    Exchange x(std::string("OPTIONS ") + c.target + " HTTP/1.1\r\nhost: h\r\n\r\n");
    CHECK(x.run(rules.request).kind == RuleOutcome::Kind::proceed);
    CHECK_MESSAGE(x.request.target == c.expected, std::string(c.target));
  }
}

TEST_CASE("url and path read the rewritten target in later rules") {
  CompiledRules rules(
      "  http-request set-path /b\n"
      "  http-request set-header X-U %[url]\n"
      "  http-request deny if { path /b }");
  Exchange x("GET /a?k HTTP/1.1\r\n\r\n");
  const auto outcome = x.run(rules.request);
  CHECK(outcome.kind == RuleOutcome::Kind::reply);
  CHECK(x.head() == "GET /b?k HTTP/1.1\r\nx-u: /b?k\r\n\r\n");
}

TEST_CASE("conditions: if, unless, and a later rule seeing an earlier edit") {
  CompiledRules rules(
      "  http-request set-header X-If yes if { path /p }\n"
      "  http-request set-header X-Not yes if { path /other }\n"
      "  http-request set-header X-Unless yes unless { path /other }\n"
      "  http-request set-header X-Seen %[req.hdr(x-if)] if { req.hdr(x-if) yes }");
  Exchange x("GET /p HTTP/1.1\r\n\r\n");
  CHECK(x.run(rules.request).kind == RuleOutcome::Kind::proceed);
  CHECK(x.head() == "GET /p HTTP/1.1\r\nx-if: yes\r\nx-unless: yes\r\nx-seen: yes\r\n\r\n");
}

TEST_CASE("deny: 403 by default, deny_status otherwise; rules stop at the first reply") {
  CompiledRules rules(
      "  http-request deny deny_status 429 if { path /slow }\n"
      "  http-request deny if { path /p }\n"
      "  http-request set-header X-After yes");
  {
    Exchange x("GET /p HTTP/1.1\r\n\r\n");
    const auto outcome = x.run(rules.request);
    CHECK(outcome.kind == RuleOutcome::Kind::reply);
    CHECK(outcome.status == 403);
    REQUIRE(outcome.action != nullptr);
    CHECK(outcome.action->kind == config::HttpAction::Kind::deny);
    CHECK(x.head() == "GET /p HTTP/1.1\r\n\r\n");
  }
  {
    Exchange x("GET /slow HTTP/1.1\r\n\r\n");
    CHECK(x.run(rules.request).status == 429);
  }
  {
    Exchange x("GET /other HTTP/1.1\r\n\r\n");
    CHECK(x.run(rules.request).kind == RuleOutcome::Kind::proceed);
    CHECK(x.head() == "GET /other HTTP/1.1\r\nx-after: yes\r\n\r\n");
  }
}

TEST_CASE("return: literal and rendered bodies, rendered hdr fields, status 200 by default") {
  CompiledRules rules(
      "  http-request return status 200 content-type text/plain string \"hello\" "
      "if { path /a }\n"
      "  http-request return if { path /b }\n"
      "  http-request return status 404 content-type \"text/html; charset=utf-8\" "
      "lf-string \"p=%[path]\" hdr X-A \"1 %[path]\" hdr X-B b hdr X-E \"%[req.hdr(nope)]\" "
      "if { path /e }");
  {
    Exchange x("GET /a HTTP/1.1\r\n\r\n");
    const auto outcome = x.run(rules.request);
    REQUIRE(outcome.kind == RuleOutcome::Kind::reply);
    CHECK(outcome.status == 200);
    CHECK(outcome.body == "hello");
    CHECK(reply_bytes(outcome, x) ==
          "HTTP/1.1 200 OK\r\ncontent-length: 5\r\ncontent-type: text/plain\r\n\r\nhello");
  }
  {
    Exchange x("GET /b HTTP/1.1\r\n\r\n");
    const auto outcome = x.run(rules.request);
    REQUIRE(outcome.kind == RuleOutcome::Kind::reply);
    CHECK(reply_bytes(outcome, x) == "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
  }
  {
    Exchange x("GET /e HTTP/1.1\r\n\r\n");
    const auto outcome = x.run(rules.request);
    REQUIRE(outcome.kind == RuleOutcome::Kind::reply);
    CHECK(outcome.body == "p=/e");
    // The hdr fields first; one rendering empty is left out.
    CHECK(reply_bytes(outcome, x) ==
          "HTTP/1.1 404 Not Found\r\nx-a: 1 /e\r\nx-b: b\r\ncontent-length: 4\r\n"
          "content-type: text/html; charset=utf-8\r\n\r\np=/e");
  }
}

TEST_CASE("redirect location, prefix and scheme build HAProxy's Location") {
  CompiledRules rules(
      "  http-request redirect location /x code 301 if { path_beg /l301 }\n"
      "  http-request redirect location /x?a=1 drop-query append-slash if { path_beg /l4 }\n"
      "  http-request redirect location %[path]/z if { path_beg /l5 }\n"
      "  http-request redirect prefix /v2 if { path_beg /p1 }\n"
      "  http-request redirect prefix /v2/ if { path_beg /p2 }\n"
      "  http-request redirect prefix / if { path_beg /p3 }\n"
      "  http-request redirect prefix / drop-query if { path_beg /p4 }\n"
      "  http-request redirect prefix /v2 drop-query append-slash if { path_beg /p5 }\n"
      "  http-request redirect prefix /v2 append-slash if { path_beg /p6 }\n"
      "  http-request redirect prefix https://e.com if { path_beg /p7 }\n"
      "  http-request redirect scheme https if { path_beg /s1 }\n"
      "  http-request redirect scheme https drop-query if { path_beg /s2 }\n"
      "  http-request redirect scheme https drop-query append-slash if { path_beg /s3 }\n"
      "  http-request redirect scheme https append-slash code 308 if { path_beg /s4 }\n"
      "  http-request redirect prefix /v2 if { path / }");
  struct Case {
    const char* target;
    int status;
    const char* location;
  };
  // Every Location as haproxy 2.6.12 sent it for the same rule and target (Host: h).
  for (const auto& c : {
           Case{"/l301/a?q=1&b", 301, "/x"},
           Case{"/l4/?q=1", 302, "/x?a=1"},
           Case{"/l5/a?q=1&b", 302, "/l5/a/z"},
           Case{"/p1", 302, "/v2/p1"},
           Case{"/p1/a?q=1&b", 302, "/v2/p1/a?q=1&b"},
           Case{"/p2", 302, "/v2//p2"},
           Case{"/p3/?q=1", 302, "/p3/?q=1"},
           Case{"/p4/a?q=1&b", 302, "/p4/a"},
           Case{"/p5", 302, "/v2/p5/"},
           Case{"/p5/?q=1", 302, "/v2/p5/"},
           Case{"/p5/a?q=1&b", 302, "/v2/p5/a/"},
           Case{"/p6", 302, "/v2/p6/"},
           Case{"/p6/?q=1", 302, "/v2/p6/?q=1/"},
           Case{"/p7/a?q=1&b", 302, "https://e.com/p7/a?q=1&b"},
           Case{"/s1/a?q=1&b", 302, "https://h/s1/a?q=1&b"},
           Case{"/s2/a?q=1&b", 302, "https://h/s2/a"},
           Case{"/s3/a?q=1&b", 302, "https://h/s3/a/"},
           Case{"/s4/?q=1", 308, "https://h/s4/?q=1/"},
           Case{"http://a.b/p1?q", 302, "/v2/p1?q"},
       }) {
    Exchange x(std::string("GET ") + c.target + " HTTP/1.1\r\nhost: h\r\n\r\n");
    const auto outcome = x.run(rules.request);
    REQUIRE_MESSAGE(outcome.kind == RuleOutcome::Kind::reply, std::string(c.target));
    CHECK_MESSAGE(outcome.status == c.status, std::string(c.target));
    CHECK_MESSAGE(outcome.location == c.location, std::string(c.target));
  }
}

TEST_CASE("redirect scheme without a Host, and on a target without a path") {
  CompiledRules rules(
      "  http-request redirect scheme https code 301 if { hdr_cnt(host) 0 }\n"
      "  http-request redirect scheme https\n");
  {
    Exchange x("GET /s HTTP/1.0\r\n\r\n");
    const auto outcome = x.run(rules.request);
    CHECK(outcome.status == 301);
    CHECK(outcome.location == "https:///s");
    CHECK(reply_bytes(outcome, x) ==
          "HTTP/1.1 301 Moved Permanently\r\ncontent-length: 0\r\nlocation: https:///s\r\n\r\n");
  }
  {
    Exchange x("GET http://a.b HTTP/1.1\r\nhost: a.b:81\r\n\r\n");
    CHECK(x.run(rules.request).location == "https://a.b:81/");
  }
  {
    Exchange x("OPTIONS * HTTP/1.1\r\nhost: a.b\r\n\r\n");
    CHECK(x.run(rules.request).location == "https://a.b/");
  }
}

TEST_CASE("the frontend's redirect keyword compiles into its own list") {
  CompiledRules rules("  redirect scheme https code 301 if !{ ssl_fc }");
  CHECK(rules.request.empty());
  Exchange x("GET /r1 HTTP/1.1\r\nhost: h\r\n\r\n");
  const auto outcome = x.run(rules.redirects);
  CHECK(reply_bytes(outcome, x) ==
        "HTTP/1.1 301 Moved Permanently\r\ncontent-length: 0\r\nlocation: https://h/r1\r\n\r\n");
}

TEST_CASE("a rewrite that does not fit fails the message (HAProxy answers 500)") {
  SUBCASE("rendered header value beyond the arena") {
    CompiledRules rules("  http-request set-header X-Long %[path]");
    Exchange x("GET /0123456789abcdef HTTP/1.1\r\n\r\n", 8);
    const auto outcome = x.run(rules.request);
    CHECK(outcome.kind == RuleOutcome::Kind::failed);
    CHECK(x.head() == "GET /0123456789abcdef HTTP/1.1\r\n\r\n");  // left as it was
  }
  SUBCASE("a value that fits exactly") {
    CompiledRules rules("  http-request set-header X-Long %[path]");
    Exchange x("GET /0123456 HTTP/1.1\r\n\r\n", 8);
    CHECK(x.run(rules.request).kind == RuleOutcome::Kind::proceed);
    CHECK(x.arena.used() == 8);
  }
  SUBCASE("header list full") {
    CompiledRules rules("  http-request add-header X-New 1");
    Exchange x("GET / HTTP/1.1\r\na: 1\r\nb: 2\r\n\r\n", 4096, 2);
    CHECK(x.run(rules.request).kind == RuleOutcome::Kind::failed);
  }
  SUBCASE("set-path, replace-header, redirect and a rendered return body") {
    CompiledRules rules(
        "  http-request set-path /a-long-new-path if { path /sp }\n"
        "  http-request replace-header X-A (.*) \\\\1\\\\1\\\\1\\\\1 if { path /rh }\n"
        "  http-request redirect prefix /a-long-prefix if { path /rd }\n"
        "  http-request return content-type t lf-string \"%[path]%[path]\" if { path /rt }");
    for (const char* target : {"/sp", "/rh", "/rd", "/rt"}) {
      Exchange x(std::string("GET ") + target + " HTTP/1.1\r\nx-a: abc\r\n\r\n", 5);
      CHECK_MESSAGE(x.run(rules.request).kind == RuleOutcome::Kind::failed, std::string(target));
    }
  }
}

TEST_CASE("http-response rules edit the response and read its status") {
  CompiledRules rules(
      "  http-response set-header X-Status %[status]\n"
      "  http-response del-header Server\n"
      "  http-response add-header X-Via sluice if { status 200 }\n"
      "  http-response replace-header X-Out ^a(.*) z\\\\1");
  Exchange x(kGet);
  x.set_response("HTTP/1.1 200 OK\r\nserver: s\r\nx-out: a, b\r\ncontent-length: 0\r\n\r\n");
  CHECK(x.run(rules.response, x.response).kind == RuleOutcome::Kind::proceed);
  CHECK(Exchange::head_of(x.response) ==
        "HTTP/1.1 200 OK\r\nx-out: z, b\r\ncontent-length: 0\r\nx-status: 200\r\n"
        "x-via: sluice\r\n\r\n");
}

TEST_CASE("httpfacts: request, response, nbsrv and the connection") {
  Exchange x("PURGE /a?b HTTP/1.1\r\nhost: h\r\nx: 1\r\n\r\n");
  using rules::FetchId;
  CHECK(x.facts.fetch(FetchId::method, {}).text == "PURGE");
  CHECK(x.facts.fetch(FetchId::url, {}).text == "/a?b");
  CHECK(!x.facts.fetch(FetchId::status, {}));
  CHECK(x.facts.fetch(FetchId::src_port, {}).integer == 5555);
  CHECK(x.facts.fetch(FetchId::dst_port, {}).integer == 80);
  CHECK(x.facts.fetch(FetchId::ssl_fc, {}).integer == 0);
  CHECK(!x.facts.fetch(FetchId::ssl_fc_sni, {}));
  CHECK(x.facts.header_count(rules::Message::request) == 2u);
  CHECK(x.facts.header(rules::Message::request, 1).value == "1");
  CHECK(!x.facts.header_count(rules::Message::response));
  CHECK(x.facts.fetch(FetchId::nbsrv, {}).integer == 2);  // "": before routing
  x.facts.set_backend("be");
  CHECK(x.facts.fetch(FetchId::nbsrv, {}).integer == 1);
  const std::string_view other[] = {"nope"};
  CHECK(!x.facts.fetch(FetchId::nbsrv, other));
  x.set_response("HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n");
  CHECK(x.facts.fetch(FetchId::status, {}).integer == 404);
  CHECK(x.facts.header_count(rules::Message::response) == 1u);
  x.facts.set_request(nullptr);
  CHECK(!x.facts.fetch(FetchId::method, {}));
  CHECK(!x.facts.header_count(rules::Message::request));
}

// ---- option forwardfor ----------------------------------------------------------------------

namespace {

std::optional<config::ForwardFor> ff(std::string header = "X-Forwarded-For",
                                     std::string except = "", bool if_none = false) {
  return config::ForwardFor{std::move(header), std::move(except), if_none};
}

// The fields a request gets through the merged option, as "name: value" lines.
std::string forwarded(const std::optional<config::ForwardFor>& frontend,
                      const std::optional<config::ForwardFor>& backend, const char* sent = "",
                      const char* client = "127.0.0.1") {
  const auto merged = ForwardFor::merge(frontend, backend);
  Exchange x(std::string("GET / HTTP/1.1\r\n") + sent + "\r\n", 4096, 101, client);
  if (merged) REQUIRE(merged->apply(x.request, x.client, x.arena));
  const std::string head = x.head();
  return head.substr(std::string_view("GET / HTTP/1.1\r\n").size());
}

}  // namespace

TEST_CASE("forwardfor merge: the backend's header name wins, as haproxy 2.6 does") {
  CHECK(!ForwardFor::merge(std::nullopt, std::nullopt));
  CHECK(forwarded(ff("X-F"), ff("X-B")) == "x-b: 127.0.0.1\r\n\r\n");
  CHECK(forwarded(ff("X-F"), ff()) == "x-forwarded-for: 127.0.0.1\r\n\r\n");
  CHECK(forwarded(ff(), ff("X-B")) == "x-b: 127.0.0.1\r\n\r\n");
  CHECK(forwarded(ff("X-F"), std::nullopt) == "x-f: 127.0.0.1\r\n\r\n");
  CHECK(forwarded(std::nullopt, ff("X-B")) == "x-b: 127.0.0.1\r\n\r\n");
  // An existing field is kept and another one added after it.
  CHECK(forwarded(ff(), std::nullopt, "x-forwarded-for: 10.1.1.1\r\n") ==
        "x-forwarded-for: 10.1.1.1\r\nx-forwarded-for: 127.0.0.1\r\n\r\n");
}

TEST_CASE("forwardfor except: either proxy's network skips the header") {
  CHECK(forwarded(ff("X-Forwarded-For", "127.0.0.0/8"), ff()) == "\r\n");
  CHECK(forwarded(ff(), ff("X-Forwarded-For", "127.0.0.0/8")) == "\r\n");
  CHECK(forwarded(ff("X-Forwarded-For", "127.0.0.1"), std::nullopt) == "\r\n");
  CHECK(forwarded(ff("X-Forwarded-For", "127.0.0.2"), std::nullopt) ==
        "x-forwarded-for: 127.0.0.1\r\n\r\n");
  CHECK(forwarded(ff("X-Forwarded-For", "127.0.0.0/255.0.0.0"), std::nullopt) == "\r\n");
  CHECK(forwarded(ff("X-Forwarded-For", "10.0.0.0/8"), std::nullopt) ==
        "x-forwarded-for: 127.0.0.1\r\n\r\n");
  // IPv6 clients: written without brackets; v6 networks only match v6 clients.
  CHECK(forwarded(ff(), std::nullopt, "", "::1") == "x-forwarded-for: ::1\r\n\r\n");
  CHECK(forwarded(ff("X-Forwarded-For", "::1"), std::nullopt, "", "::1") == "\r\n");
  CHECK(forwarded(ff("X-Forwarded-For", "::/0"), std::nullopt, "", "::1") == "\r\n");
  CHECK(forwarded(ff("X-Forwarded-For", "2001:db8::/32"), std::nullopt, "", "2001:db8::5") ==
        "\r\n");
  CHECK(forwarded(ff("X-Forwarded-For", "0.0.0.0/0"), std::nullopt, "", "::1") ==
        "x-forwarded-for: ::1\r\n\r\n");
  CHECK(forwarded(ff("X-Forwarded-For", "::/0"), std::nullopt) ==
        "x-forwarded-for: 127.0.0.1\r\n\r\n");
}

TEST_CASE("forwardfor if-none: an existing header stops it only when every proxy says so") {
  const char* sent = "x-forwarded-for: 1.1.1.1\r\n";
  const std::string kept = "x-forwarded-for: 1.1.1.1\r\n\r\n";
  const std::string added = "x-forwarded-for: 1.1.1.1\r\nx-forwarded-for: 127.0.0.1\r\n\r\n";
  CHECK(forwarded(ff("X-Forwarded-For", "", true), std::nullopt, sent) == kept);
  CHECK(forwarded(std::nullopt, ff("X-Forwarded-For", "", true), sent) == kept);
  CHECK(forwarded(ff("X-Forwarded-For", "", true), ff("X-Forwarded-For", "", true), sent) == kept);
  // haproxy 2.6 adds it when one of the two lacks if-none.
  CHECK(forwarded(ff(), ff("X-Forwarded-For", "", true), sent) == added);
  CHECK(forwarded(ff("X-Forwarded-For", "", true), ff(), sent) == added);
  // The check is on the header that would be added, names compared without case.
  CHECK(forwarded(std::nullopt, ff("X-B", "", true), sent) ==
        "x-forwarded-for: 1.1.1.1\r\nx-b: 127.0.0.1\r\n\r\n");
  CHECK(forwarded(ff("x-forwarded-for", "", true), std::nullopt, "x-forwarded-for: 1\r\n") ==
        "x-forwarded-for: 1\r\n\r\n");
  CHECK(forwarded(ff("X-Forwarded-For", "", true), std::nullopt) ==
        "x-forwarded-for: 127.0.0.1\r\n\r\n");
}

TEST_CASE("forwardfor from a compiled config, and a full arena") {
  CompiledRules rules("  option forwardfor except 10.0.0.0/8 if-none",
                      "  option forwardfor header X-Client");
  const auto merged = ForwardFor::merge(rules.frontend().forwardfor, rules.backend().forwardfor);
  REQUIRE(merged);
  CHECK(merged->header == "X-Client");
  CHECK(merged->except.size() == 1);
  CHECK(!merged->if_none);
  Exchange x("GET / HTTP/1.1\r\n\r\n", 4);
  CHECK(!merged->apply(x.request, x.client, x.arena));  // "192.0.2.7" does not fit in 4
}

TEST_CASE("rewritearena: commit, copy and reset") {
  RewriteArena arena(8);
  CHECK(arena.space().size() == 8);
  CHECK(arena.copy("abc") == std::string_view("abc"));
  CHECK(arena.used() == 3);
  CHECK(!arena.copy("123456"));
  CHECK(arena.copy("12345") == std::string_view("12345"));
  CHECK(arena.space().empty());
  CHECK(arena.copy("") == std::string_view());
  arena.reset();
  CHECK(arena.used() == 0);
}

TEST_CASE("Regex::search gives HAProxy's groups without changing matches()") {
  rules::Regex with(R"(^(a+)(x)?(b))", false, true);
  rules::Regex::Groups g;
  REQUIRE(with.search("aab-", g));
  CHECK(g[0].begin == 0);
  CHECK(g[0].end == 3);
  CHECK(g[1].end == 2);
  CHECK(g[2].begin == rules::Regex::Span::unset);
  CHECK(g[3].begin == 2);
  CHECK(g[4].begin == rules::Regex::Span::unset);
  CHECK(!with.search("b", g));
  CHECK(with.matches("ab"));
  rules::Regex many("(1)(2)(3)(4)(5)(6)(7)(8)(9)(10)(11)", false, true);
  REQUIRE(many.search("1234567891011", g));
  CHECK(g[9].begin == 8);
  rules::Regex acl("(a)", true);
  REQUIRE(acl.search("xA", g));
  CHECK(g[0].begin == 1);
  CHECK(g[1].begin == rules::Regex::Span::unset);  // ACL regexes number no group
}
