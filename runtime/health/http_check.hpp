// `option httpchk` and `http-check send|expect`: the request a check sends, and the verdict
// on what came back, in HAProxy's words ("Layer7 wrong status", code 500, "Internal Server
// Error"). Pure: bytes in, verdict out.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "runtime/config/config.hpp"
#include "runtime/health/verdict.hpp"
#include "runtime/rules/fetch.hpp"
#include "runtime/rules/regex.hpp"

namespace sluice::health {

// `option ssl-hello-chk`: a TLS ClientHello, and the verdict on the first bytes back: a TLS
// record of a handshake (0x16) or an alert (0x15) means a TLS server ("Layer6 check
// passed"); anything else, or a close before five bytes, is "Layer6 invalid response".
const std::string& tls_hello();
std::optional<Verdict> judge_tls_hello(std::string_view response, bool complete);

class HttpCheck {
 public:
  // Throws rules::CompileError for a bad regex or an expect kind not served.
  explicit HttpCheck(const config::HttpCheck& check);

  const std::string& request() const { return request_; }
  // The verdict once `response` says enough; nullopt while more may come. `complete`: the
  // server closed, or the buffer is full.
  std::optional<Verdict> judge(std::string_view response, bool complete) const;

 private:
  std::string request_;
  enum class Kind { none, status, rstatus, string, rstring } kind_ = Kind::none;
  bool negated_ = false;
  std::string pattern_;
  std::optional<rules::Regex> regex_;
};

}  // namespace sluice::health
