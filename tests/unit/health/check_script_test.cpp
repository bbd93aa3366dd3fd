// runtime/health's check scripts: the steps each check type runs, the verdicts of tcp-check
// expects and the info lines, worded as HAProxy 2.6.12 logs them (checked side by side).
#include <doctest/doctest.h>

#include "runtime/health/check_script.hpp"

using sluice::config::Backend;
using sluice::config::CheckType;
using sluice::config::TcpCheckRule;
using sluice::health::CheckScript;
using sluice::health::describe;
using sluice::health::Status;
using sluice::health::Step;
using Kind = TcpCheckRule::Kind;
using Match = TcpCheckRule::Match;

namespace {

TcpCheckRule expect(Match match, std::string pattern, bool negated = false) {
  TcpCheckRule r;
  r.kind = Kind::expect;
  r.match = match;
  r.pattern = std::move(pattern);
  r.negated = negated;
  return r;
}

TcpCheckRule rule(Kind kind, std::string text = {}) {
  TcpCheckRule r;
  r.kind = kind;
  (kind == Kind::comment ? r.comment : r.data) = std::move(text);
  return r;
}

Backend scripted(std::vector<TcpCheckRule> rules) {
  Backend b;
  b.check_type = CheckType::tcp_check;
  b.tcp_checks = std::move(rules);
  return b;
}

}  // namespace

TEST_CASE("built-in checks are scripts: connect, then send and expect") {
  Backend b;
  CHECK(CheckScript(b).steps().size() == 1);
  b.check_type = CheckType::http;
  const CheckScript http(b);
  REQUIRE(http.steps().size() == 3);
  CHECK(http.steps()[1].rule.data == "OPTIONS / HTTP/1.0\r\n\r\n");
  CHECK(http.steps()[2].judge == Step::Judge::http);
  CHECK(http.steps()[2].rule.timeout == Status::l7_timeout);
  b.check_type = CheckType::ssl_hello;
  const CheckScript hello(b);
  REQUIRE(hello.steps().size() == 3);
  CHECK(hello.steps()[2].rule.timeout == Status::l6_timeout);
  // Built-in failures say no step.
  CHECK(hello.failure_info("Connection refused", hello.steps()[0]) == "Connection refused");
  CHECK(hello.failure_info("", hello.steps()[2]).empty());
  const auto passed = CheckScript(Backend{}).success(std::nullopt, true);
  CHECK(describe(passed.status) == "Layer6 check passed");
  CHECK(passed.info.empty());
}

TEST_CASE("a tcp-check script: implicit connect, comments counted and given to the next step") {
  const CheckScript s(scripted({rule(Kind::comment, "ping phase"), rule(Kind::send, "PING\r\n"),
                                expect(Match::string, "+PONG")}));
  REQUIRE(s.steps().size() == 3);
  CHECK(s.steps()[0].rule.kind == Kind::connect);
  CHECK(s.steps()[0].number == 0);
  CHECK(s.steps()[1].number == 2);
  CHECK(s.steps()[1].rule.comment == "ping phase");
  CHECK(s.steps()[2].number == 3);
  CHECK(s.steps()[2].rule.comment.empty());
  CHECK(s.failure_info("Connection refused", s.steps()[0]) ==
        "Connection refused at initial connection step of tcp-check");
  CHECK(s.failure_info("", s.steps()[2]) == " at step 3 of tcp-check (expect string '+PONG')");
  const auto passed = s.success(std::nullopt, false);
  CHECK(describe(passed.status) == "Layer7 check passed");
  CHECK(passed.info == "(tcp-check)");
}

TEST_CASE("expect string: waits for more until the server closes, then did not match") {
  const CheckScript s(scripted({expect(Match::string, "+OK")}));
  const Step& step = s.steps()[1];
  CHECK_FALSE(s.judge(step, "", false));
  CHECK_FALSE(s.judge(step, "-ERR", false));
  auto v = s.judge(step, "-ERR", true);
  REQUIRE(v);
  CHECK_FALSE(v->passed);
  CHECK(describe(v->status) == "Layer7 invalid response");
  CHECK(v->info == "TCPCHK did not match content '+OK' at step 1");
  v = s.judge(step, "", true);
  REQUIRE(v);
  CHECK(v->info == "TCPCHK got an empty response at step 1");
  v = s.judge(step, "* +OK ready", false);
  REQUIRE(v);
  CHECK(v->passed);
  // Text matches stop at a NUL, as HAProxy's.
  CHECK_FALSE(s.judge(step, std::string("x\0+OK", 5), true)->passed);
}

TEST_CASE("negation, binary, regexes over text and over upper-case hex") {
  const CheckScript s(
      scripted({expect(Match::string, "+OK", true), expect(Match::binary, std::string("\0\x01", 2)),
                expect(Match::rstring, "^ro.e:"), expect(Match::rbinary, "^2B4F")}));
  auto v = s.judge(s.steps()[1], "+OK", false);
  REQUIRE(v);
  CHECK(v->info == "TCPCHK matched unwanted content '+OK' at step 1");
  CHECK_FALSE(s.judge(s.steps()[1], "-ERR", false));  // it may still come
  CHECK(s.judge(s.steps()[1], "-ERR", true)->passed);
  CHECK(s.judge(s.steps()[2], std::string("x\0\x01", 3), false)->passed);
  CHECK(s.judge(s.steps()[2], "x", true)->info ==
        "TCPCHK did not match content (binary) at step 2");
  CHECK(s.judge(s.steps()[3], "role:master", false)->passed);
  CHECK(s.judge(s.steps()[3], "x", true)->info == "TCPCHK did not match content (regex) at step 3");
  CHECK(s.judge(s.steps()[4], "+OK", false)->passed);
  CHECK(s.judge(s.steps()[4], "+ok", true)->info ==
        "TCPCHK did not match content (binary regex) at step 4");
}

TEST_CASE("min-recv settles a mismatch once enough bytes came; statuses and comments") {
  auto e = expect(Match::string, "+PONG");
  e.min_recv = 4;
  e.comment = "pong";
  e.error = Status::l7_status;
  e.ok = Status::l6_ok;
  const CheckScript s(scripted({e}));
  const Step& step = s.steps()[1];
  CHECK_FALSE(s.judge(step, "-ER", false));
  auto v = s.judge(step, "-ERR", false);
  REQUIRE(v);
  CHECK(describe(v->status) == "Layer7 wrong status");
  CHECK(v->info == "TCPCHK did not match content '+PONG' at step 1 comment: pong");
  CHECK(s.judge(step, "", true)->info == "TCPCHK got an empty response at step 1 comment: 'pong'");
  CHECK(s.failure_info("", step) ==
        " at step 1 of tcp-check (expect string '+PONG') comment: 'pong'");
  const auto passed = s.success(std::nullopt, false);
  CHECK(describe(passed.status) == "Layer6 check passed");
}

TEST_CASE("connect steps: ports in messages, TLS by rule or by the server's defaults") {
  TcpCheckRule first = rule(Kind::connect);
  TcpCheckRule second = rule(Kind::connect);
  second.port = 443;
  second.ssl = true;
  const CheckScript s(scripted({first, second}));
  REQUIRE(s.steps().size() == 2);
  CHECK(s.failure_info("Connection refused", s.steps()[1]) ==
        "Connection refused at step 2 of tcp-check (connect port 443)");
  CHECK_FALSE(CheckScript::connects_tls(s.steps()[0], true));  // no `default`
  CHECK(CheckScript::connects_tls(s.steps()[1], false));
  const auto passed = s.success(std::nullopt, true);
  CHECK(describe(passed.status) == "Layer6 check passed");
  CHECK(passed.info == "(tcp-check)");
  // `option tcp-check` alone: the built-in connect's words, with the step named on failure.
  const CheckScript bare(scripted({}));
  CHECK(bare.success(std::nullopt, false).info.empty());
}
