#include "runtime/health/check_script.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace sluice::health {

namespace {

using Kind = config::TcpCheckRule::Kind;
using Match = config::TcpCheckRule::Match;

Step connect_step() {
  Step s;
  s.rule.kind = Kind::connect;
  s.rule.server_defaults = true;  // the server line's address, port and TLS
  return s;
}

Step send_step(std::string data) {
  Step s;
  s.rule.kind = Kind::send;
  s.rule.data = std::move(data);
  return s;
}

Step expect_step(Step::Judge judge, Status timeout) {
  Step s;
  s.rule.kind = Kind::expect;
  s.rule.timeout = timeout;
  s.judge = judge;
  return s;
}

// HAProxy searches text only up to a NUL; binary matches see every byte.
std::string_view text_of(std::string_view response) {
  return response.substr(0, response.find('\0'));
}

std::string upper_hex(std::string_view bytes) {
  static constexpr char digits[] = "0123456789ABCDEF";
  std::string hex;
  hex.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    hex += digits[c >> 4];
    hex += digits[c & 15];
  }
  return hex;
}

bool found(const Step& step, std::string_view response) {
  switch (step.rule.match) {
    case Match::string:
      return text_of(response).find(step.rule.pattern) != std::string_view::npos;
    case Match::binary:
      return response.find(step.rule.pattern) != std::string_view::npos;
    case Match::rstring:
      return step.regex->matches(text_of(response));
    case Match::rbinary:
      return step.regex->matches(upper_hex(response));
  }
  return false;
}

// How HAProxy names a pattern in "did not match content …".
std::string shown_pattern(const config::TcpCheckRule& rule) {
  switch (rule.match) {
    case Match::string:
      return fmt::format("'{}'", rule.pattern);
    case Match::binary:
      return "(binary)";
    case Match::rstring:
      return "(regex)";
    case Match::rbinary:
      return "(binary regex)";
  }
  return {};
}

// HAProxy quotes the comment after a connection error or a timeout, not after a mismatch.
std::string comment_suffix(const config::TcpCheckRule& rule, bool quoted) {
  if (rule.comment.empty()) return {};
  return quoted ? fmt::format(" comment: '{}'", rule.comment)
                : fmt::format(" comment: {}", rule.comment);
}

// "(connect port 8080)", "(expect string '+PONG')", "(expect binary regex)".
std::string step_description(const config::TcpCheckRule& rule) {
  switch (rule.kind) {
    case Kind::connect:
      return rule.port ? fmt::format("connect port {}", rule.port) : std::string("connect");
    case Kind::send:
      return "send";
    case Kind::comment:
      return "comment";
    case Kind::expect:
      break;
  }
  switch (rule.match) {
    case Match::string:
      return fmt::format("expect string '{}'", rule.pattern);
    case Match::binary:
      return fmt::format("expect binary '{}'", rule.pattern);
    case Match::rstring:
      return "expect regex";
    case Match::rbinary:
      return "expect binary regex";
  }
  return {};
}

}  // namespace

std::string_view describe(Status status) {
  switch (status) {
    case Status::l4_ok:
      return "Layer4 check passed";
    case Status::l4_timeout:
      return "Layer4 timeout";
    case Status::l4_connection:
      return "Layer4 connection problem";
    case Status::l6_ok:
      return "Layer6 check passed";
    case Status::l6_timeout:
      return "Layer6 timeout";
    case Status::l6_response:
      return "Layer6 invalid response";
    case Status::l7_timeout:
      return "Layer7 timeout";
    case Status::l7_response:
      return "Layer7 invalid response";
    case Status::l7_ok:
      return "Layer7 check passed";
    case Status::l7_status:
      return "Layer7 wrong status";
    case Status::socket_error:
      return "Socket error";
  }
  return "Unknown";
}

bool shows_code(Status status) {
  return status == Status::l7_ok || status == Status::l7_status;
}

bool checks_over_tls(const config::Server& server) {
  return server.check_ssl ||
         (server.tls.enabled && server.check_port == 0 && server.check_addr.empty());
}

bool may_check_over_tls(const config::Backend& backend, const config::Server& server) {
  if (!server.check) return false;
  if (checks_over_tls(server)) return true;
  return backend.check_type == config::CheckType::tcp_check &&
         std::any_of(
             backend.tcp_checks.begin(), backend.tcp_checks.end(),
             [](const config::TcpCheckRule& r) { return r.kind == Kind::connect && r.ssl; });
}

bool CheckScript::connects_tls(const Step& step, bool server_tls) {
  return step.rule.ssl || (step.rule.server_defaults && server_tls);
}

CheckScript::CheckScript(const config::Backend& backend) {
  switch (backend.check_type) {
    case config::CheckType::connect:
      steps_.push_back(connect_step());
      return;
    case config::CheckType::http:
      http_.emplace(backend.http_check);
      steps_.push_back(connect_step());
      steps_.push_back(send_step(http_->request()));
      steps_.push_back(expect_step(Step::Judge::http, Status::l7_timeout));
      return;
    case config::CheckType::ssl_hello:
      steps_.push_back(connect_step());
      steps_.push_back(send_step(tls_hello()));
      steps_.push_back(expect_step(Step::Judge::tls_hello, Status::l6_timeout));
      return;
    case config::CheckType::tcp_check:
      break;
  }
  scripted_ = true;
  const auto& rules = backend.tcp_checks;
  has_rules_ = !rules.empty();
  const auto first = std::find_if(rules.begin(), rules.end(),
                                  [](const auto& r) { return r.kind != Kind::comment; });
  if (first == rules.end() || first->kind != Kind::connect) steps_.push_back(connect_step());
  std::string comment;  // `tcp-check comment` names the step after it
  int number = 0;
  for (const auto& rule : rules) {
    ++number;
    if (rule.kind == Kind::comment) {
      comment = rule.comment;
      continue;
    }
    Step& step = steps_.emplace_back();
    step.rule = rule;
    step.number = number;
    if (step.rule.comment.empty()) step.rule.comment = comment;
    comment.clear();
    if (rule.kind == Kind::expect && (rule.match == Match::rstring || rule.match == Match::rbinary))
      step.regex.emplace(rule.pattern, false);
  }
}

std::optional<Verdict> CheckScript::judge(const Step& step, std::string_view response,
                                          bool complete) const {
  switch (step.judge) {
    case Step::Judge::http:
      return http_->judge(response, complete);
    case Step::Judge::tls_hello:
      return judge_tls_hello(response, complete);
    case Step::Judge::content:
      break;
  }
  const auto& rule = step.rule;
  if (response.empty()) {
    if (!complete) return std::nullopt;
    return Verdict{false, rule.error, 0,
                   fmt::format("TCPCHK got an empty response at step {}{}", step.number,
                               comment_suffix(rule, true))};
  }
  const auto size = static_cast<std::int64_t>(response.size());
  if (!complete && size < rule.min_recv) return std::nullopt;
  const bool matched = found(step, response);
  // Without min-recv a missing pattern may still come; with it, enough bytes settle it.
  if (!matched && !complete && rule.min_recv < 0) return std::nullopt;
  if (matched != rule.negated) return Verdict{true, rule.ok, 0, {}};
  return Verdict{false, rule.error, 0,
                 fmt::format("TCPCHK {} content {} at step {}{}",
                             matched ? "matched unwanted" : "did not match", shown_pattern(rule),
                             step.number, comment_suffix(rule, false))};
}

Verdict CheckScript::success(const std::optional<Verdict>& last, bool tls) const {
  const Status connected = tls ? Status::l6_ok : Status::l4_ok;
  if (!scripted_) return last ? *last : Verdict{true, connected, 0, {}};
  if (!has_rules_) return Verdict{true, connected, 0, {}};
  const auto& final_rule = steps_.back().rule;
  if (final_rule.kind == Kind::expect) return Verdict{true, final_rule.ok, 0, "(tcp-check)"};
  const bool exchanged = std::any_of(steps_.begin(), steps_.end(),
                                     [](const Step& s) { return s.rule.kind != Kind::connect; });
  return Verdict{true, exchanged ? Status::l7_ok : connected, 0, "(tcp-check)"};
}

std::string CheckScript::failure_info(std::string_view error, const Step& step) const {
  if (!scripted_) return std::string(error);
  if (step.number == 0) return fmt::format("{} at initial connection step of tcp-check", error);
  return fmt::format("{} at step {} of tcp-check ({}){}", error, step.number,
                     step_description(step.rule), comment_suffix(step.rule, true));
}

}  // namespace sluice::health
