#include "runtime/health/http_check.hpp"

#include <cctype>
#include <charconv>

namespace sluice::health {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// `status 200`, `status 200-299,304`: whether `code` is listed.
bool in_status_list(std::string_view list, int code) {
  while (!list.empty()) {
    const std::size_t comma = list.find(',');
    std::string_view item = list.substr(0, comma);
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    const std::size_t dash = item.find('-');
    int low = 0, high = 0;
    std::from_chars(item.data(),
                    item.data() + (dash == std::string_view::npos ? item.size() : dash), low);
    high = low;
    if (dash != std::string_view::npos)
      std::from_chars(item.data() + dash + 1, item.data() + item.size(), high);
    if (code >= low && code <= high) return true;
  }
  return false;
}

std::optional<std::size_t> content_length(std::string_view head) {
  std::size_t at = 0;
  while ((at = head.find("\r\n", at)) != std::string_view::npos) {
    at += 2;
    const std::string line = lower(head.substr(at, head.find("\r\n", at) - at));
    if (line.starts_with("content-length:")) {
      std::size_t i = 15;
      while (i < line.size() && line[i] == ' ')
        ++i;
      std::size_t n = 0;
      std::from_chars(line.data() + i, line.data() + line.size(), n);
      return n;
    }
  }
  return std::nullopt;
}

}  // namespace

const std::string& tls_hello() {
  // TLS 1.2 ClientHello: ECDHE and RSA suites with AES-GCM/CBC, no extension. A TLS server
  // answers with its hello or an alert, either of which proves it speaks TLS.
  static const std::string hello = [] {
    const unsigned char suites[] = {0xc0, 0x2b, 0xc0, 0x2f, 0xc0, 0x2c, 0xc0, 0x30, 0x00,
                                    0x9c, 0x00, 0x9d, 0x00, 0x2f, 0x00, 0x35, 0x00, 0x0a};
    std::string body;
    body += "\x03\x03";               // client_version TLS 1.2
    body += std::string(32, '\x5a');  // random (a check needs no secrecy)
    body += '\x00';                   // no session id
    body += '\x00';
    body += static_cast<char>(sizeof suites);
    body.append(reinterpret_cast<const char*>(suites), sizeof suites);
    body += "\x01\x00";              // null compression
    std::string handshake = "\x01";  // ClientHello
    handshake += '\x00';
    handshake += static_cast<char>(body.size() >> 8);
    handshake += static_cast<char>(body.size() & 0xff);
    handshake += body;
    std::string record = "\x16\x03\x01";
    record += static_cast<char>(handshake.size() >> 8);
    record += static_cast<char>(handshake.size() & 0xff);
    return record + handshake;
  }();
  return hello;
}

std::optional<Verdict> judge_tls_hello(std::string_view response, bool complete) {
  if (response.size() < 5) {
    if (!complete) return std::nullopt;
    return Verdict{false, Status::l6_response, 0, {}};
  }
  if (response[0] == '\x15' || response[0] == '\x16') return Verdict{true, Status::l6_ok, 0, {}};
  return Verdict{false, Status::l6_response, 0, {}};
}

HttpCheck::HttpCheck(const config::HttpCheck& check) {
  const bool http11 = check.version == "HTTP/1.1";
  request_ = check.method + " " + check.uri + " " + check.version + "\r\n";
  for (const auto& [name, value] : check.headers)
    request_ += lower(name) + ": " + value + "\r\n";
  if (!check.body.empty())
    request_ += "content-length: " + std::to_string(check.body.size()) + "\r\n";
  if (http11) request_ += "connection: close\r\n";
  request_ += "\r\n" + check.body;
  if (!check.expect) return;
  negated_ = check.expect->negated;
  pattern_ = check.expect->pattern;
  const std::string& k = check.expect->kind;
  if (k == "status")
    kind_ = Kind::status;
  else if (k == "rstatus")
    kind_ = Kind::rstatus;
  else if (k == "string")
    kind_ = Kind::string;
  else if (k == "rstring")
    kind_ = Kind::rstring;
  else
    throw rules::CompileError("http-check expect " + k + " is not served by this build yet");
  if (kind_ == Kind::rstatus || kind_ == Kind::rstring) regex_.emplace(pattern_, false);
}

std::optional<Verdict> HttpCheck::judge(std::string_view response, bool complete) const {
  const std::size_t head_end = response.find("\r\n\r\n");
  const std::size_t line_end = response.find("\r\n");
  if (line_end == std::string_view::npos) {
    if (!complete) return std::nullopt;
    return Verdict{false, Status::l7_response, 0, {}};
  }
  // "HTTP/1.x NNN reason"
  const std::string_view line = response.substr(0, line_end);
  if (line.size() < 12 || !line.starts_with("HTTP/") || line[8] != ' ' ||
      !std::isdigit(static_cast<unsigned char>(line[9])) ||
      !std::isdigit(static_cast<unsigned char>(line[10])) ||
      !std::isdigit(static_cast<unsigned char>(line[11])))
    return Verdict{false, Status::l7_response, 0, {}};
  const int code = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
  std::string phrase(line.size() > 13 ? line.substr(13) : std::string_view());
  const std::string_view code_text = line.substr(9, 3);
  switch (kind_) {
    case Kind::none:
    case Kind::status:
    case Kind::rstatus: {
      const bool matched = kind_ == Kind::none     ? code >= 200 && code < 400
                           : kind_ == Kind::status ? in_status_list(pattern_, code)
                                                   : regex_->matches(code_text);
      if (matched != negated_) return Verdict{true, Status::l7_ok, code, {}};
      return Verdict{false, Status::l7_status, code, std::move(phrase)};
    }
    case Kind::string:
    case Kind::rstring:
      break;
  }
  // Content: the whole body (to the server's close, its length, or a full buffer).
  if (head_end == std::string_view::npos) {
    if (!complete) return std::nullopt;
    return Verdict{false, Status::l7_response, code, {}};
  }
  const std::string_view body = response.substr(head_end + 4);
  const auto length = content_length(response.substr(0, head_end + 2));
  if (!complete && !(length && body.size() >= *length)) return std::nullopt;
  const std::string_view content = length && body.size() > *length ? body.substr(0, *length) : body;
  const bool matched = kind_ == Kind::string ? content.find(pattern_) != std::string_view::npos
                                             : regex_->matches(content);
  if (matched != negated_) return Verdict{true, Status::l7_ok, code, {}};
  return Verdict{false, Status::l7_response, 0, "HTTP content check did not match"};
}

}  // namespace sluice::health
