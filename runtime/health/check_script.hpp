// A backend's check as steps (connect, send, expect), the way HAProxy runs every check: the
// built-in ones (a TCP connect, `option httpchk`, `option ssl-hello-chk`) are short
// scripts, `option tcp-check` is the operator's own. The verdicts and the log wording
// ("TCPCHK did not match content '+PONG' at step 3") are HAProxy 2.6's. Pure: bytes in,
// verdict out; ServerCheck does the I/O.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/config/config.hpp"
#include "runtime/health/http_check.hpp"
#include "runtime/health/verdict.hpp"
#include "runtime/rules/regex.hpp"

namespace sluice::health {

// Whether `server`'s checks speak TLS by default: `check-ssl`, or an `ssl` server checked on
// its own address and port (HAProxy).
bool checks_over_tls(const config::Server& server);
// Whether any check of `server` may speak TLS (by default, or a `tcp-check connect ssl`):
// it then needs a TLS context for its checks.
bool may_check_over_tls(const config::Backend& backend, const config::Server& server);

struct Step {
  using Kind = config::TcpCheckRule::Kind;  // never `comment`: comments go to the next step
  enum class Judge { content, http, tls_hello };

  config::TcpCheckRule rule;  // kind, and what that kind uses
  // HAProxy's number in messages: the rule's place in the script, comments counted; 0 for
  // the connect a script without one starts with.
  int number = 0;
  Judge judge = Judge::content;       // expect
  std::optional<rules::Regex> regex;  // expect rstring|rbinary
};

class CheckScript {
 public:
  // Throws rules::CompileError for a regex or an HTTP expect it cannot run.
  explicit CheckScript(const config::Backend& backend);

  const std::vector<Step>& steps() const { return steps_; }
  // Whether connect step `step` speaks TLS to a server whose checks do by default when
  // `server_tls` (checks_over_tls).
  static bool connects_tls(const Step& step, bool server_tls);

  // The verdict of expect step `step` on what came back; nullopt while more may come.
  // `complete`: the server closed, or the buffer is full.
  std::optional<Verdict> judge(const Step& step, std::string_view response, bool complete) const;
  // A check that ran every step; `last`: the verdict of the last expect, `tls`: whether the
  // last connection was TLS.
  Verdict success(const std::optional<Verdict>& last, bool tls) const;
  // A step failed with `error` (a strerror, "SSL handshake failure", or empty for a
  // timeout): the info line, which under tcp-check says where.
  std::string failure_info(std::string_view error, const Step& step) const;

 private:
  std::vector<Step> steps_;
  std::optional<HttpCheck> http_;
  bool scripted_ = false;  // `option tcp-check`: failures name their step
  bool has_rules_ = false;
};

}  // namespace sluice::health
