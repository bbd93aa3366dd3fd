// Parsers of `tcp-check comment|connect|send|send-binary|expect`: the steps of an
// `option tcp-check` script. Their table rows are in keywords_proxy.cpp.
#include <fmt/format.h>

#include "parser/keywords.hpp"

namespace sluice::parser {

namespace {

// `send-binary` and `expect binary` patterns: an even number of hex digits, as bytes.
std::optional<std::string> decode_hex(Args& a, const Word& w) {
  std::string bytes;
  for (std::size_t i = 0; i < w.text.size(); i += 2) {
    int pair[2] = {0, 0};
    for (int k = 0; k < 2; ++k) {
      if (i + k >= w.text.size()) {
        a.error_at(w, "invalid binary string: an even number of hex digits is expected");
        return std::nullopt;
      }
      const char c = w.text[i + k];
      const int v = c >= '0' && c <= '9'   ? c - '0'
                    : c >= 'a' && c <= 'f' ? c - 'a' + 10
                    : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                           : -1;
      if (v < 0) {
        a.error_at(w, fmt::format("invalid binary string: '{}' is not a hex digit", c));
        return std::nullopt;
      }
      pair[k] = v;
    }
    bytes += static_cast<char>(pair[0] * 16 + pair[1]);
  }
  return bytes;
}

// `… comment TEXT` at words[i]: consumed into `comment`.
bool take_comment(Args& a, std::size_t& i, std::string& comment) {
  if (i + 1 >= a.words.size()) {
    a.error_missing(fmt::format("'{} comment' expects a message", a.path));
    return false;
  }
  comment = a.words[++i].text;
  return true;
}

bool refuse_unsupported(Args& a, const Word& w, std::initializer_list<std::string_view> names) {
  if (!is_one_of(w.text, names)) return false;
  a.error_at(w,
             fmt::format("'{} {}' is valid HAProxy but not supported by sluice", a.path, w.text));
  return true;
}

// `connect [default] [port N] [addr IP] [ssl] [sni NAME] [linger] [comment TEXT]`.
std::optional<ast::Payload> parse_connect(Args& a) {
  ast::TcpCheck c;
  c.kind = ast::TcpCheck::Kind::connect;
  for (std::size_t i = 0; i < a.words.size(); ++i) {
    const Word& w = a.words[i];
    const bool has_value = i + 1 < a.words.size();
    if (w.text == "default") {
      c.server_defaults = true;
    } else if (w.text == "ssl") {
      c.ssl = true;
    } else if (w.text == "linger") {
      c.linger = true;
    } else if (w.text == "comment") {
      if (!take_comment(a, i, c.comment)) return std::nullopt;
    } else if (w.text == "port" && has_value) {
      auto port = a.integer(a.words[++i], 1, 65535);
      if (!port) return std::nullopt;
      c.port = static_cast<int>(*port);
    } else if (w.text == "addr" && has_value) {
      c.addr = a.words[++i];
    } else if (w.text == "sni" && has_value) {
      c.sni = a.words[++i];
    } else if (refuse_unsupported(a, w, {"send-proxy", "via-socks4", "alpn", "proto"})) {
      return std::nullopt;
    } else {
      a.error_at(w, fmt::format("unexpected '{}' in 'tcp-check connect'", w.text),
                 is_one_of(w.text, {"port", "addr", "sni"})
                     ? fmt::format("'{}' expects a value", w.text)
                     : "'tcp-check connect' takes: default, port N, addr IP, ssl, sni NAME, "
                       "linger, comment TEXT");
      return std::nullopt;
    }
  }
  return c;
}

// `send DATA [comment TEXT]`, `send-binary HEX [comment TEXT]`.
std::optional<ast::Payload> parse_send(Args& a, bool binary) {
  if (a.words.empty()) {
    a.error_missing(fmt::format("'{}' expects the data to send", a.path),
                    binary ? "for example: tcp-check send-binary 50494e470d0a"
                           : "for example: tcp-check send PING\\r\\n");
    return std::nullopt;
  }
  ast::TcpCheck s;
  s.kind = ast::TcpCheck::Kind::send;
  if (binary) {
    auto bytes = decode_hex(a, a.words[0]);
    if (!bytes) return std::nullopt;
    s.data = std::move(*bytes);
  } else {
    s.data = a.words[0].text;
  }
  for (std::size_t i = 1; i < a.words.size(); ++i) {
    if (a.words[i].text == "comment") {
      if (!take_comment(a, i, s.comment)) return std::nullopt;
      continue;
    }
    a.error_at(a.words[i], fmt::format("unexpected '{}' after the data", a.words[i].text),
               "escape spaces inside the data with a backslash");
    return std::nullopt;
  }
  return s;
}

bool check_status(Args& a, const Word& option, const Word& value,
                  std::initializer_list<std::string_view> allowed) {
  if (is_one_of(value.text, allowed)) return true;
  std::string list;
  for (auto s : allowed)
    list += fmt::format("{}{}", list.empty() ? "" : ", ", s);
  a.error_at(value, fmt::format("unknown '{}' status '{}'", option.text, value.text),
             fmt::format("'{}' takes: {}", option.text, list));
  return false;
}

// `expect [min-recv N] [comment TEXT] [ok-status S] [error-status S] [tout-status S] [!]
// string|rstring|binary|rbinary PATTERN`, options in any order (HAProxy takes them after
// the pattern too).
std::optional<ast::Payload> parse_expect(Args& a) {
  ast::TcpCheck e;
  e.kind = ast::TcpCheck::Kind::expect;
  std::optional<Word> match;
  for (std::size_t i = 0; i < a.words.size(); ++i) {
    const Word& w = a.words[i];
    const bool has_value = i + 1 < a.words.size();
    if (w.text == "!") {
      e.negated = true;
    } else if (w.text == "comment") {
      if (!take_comment(a, i, e.comment)) return std::nullopt;
    } else if (w.text == "min-recv" && has_value) {
      auto n = a.integer(a.words[++i], -1, INT32_MAX);
      if (!n) return std::nullopt;
      e.min_recv = *n;
    } else if (w.text == "ok-status" && has_value) {
      // L7OKC (the NOLB state) has no counterpart in sluice's server states.
      if (!check_status(a, w, a.words[++i], {"L7OK", "L6OK", "L4OK"})) return std::nullopt;
      e.ok_status = a.words[i].text;
    } else if (w.text == "error-status" && has_value) {
      if (!check_status(a, w, a.words[++i], {"L7RSP", "L7STS", "L6RSP", "L4CON"}))
        return std::nullopt;
      e.error_status = a.words[i].text;
    } else if (w.text == "tout-status" && has_value) {
      if (!check_status(a, w, a.words[++i], {"L7TOUT", "L6TOUT", "L4TOUT"})) return std::nullopt;
      e.timeout_status = a.words[i].text;
    } else if (is_one_of(w.text, {"string", "rstring", "binary", "rbinary"}) && !match) {
      match = w;
      if (!has_value) break;
      e.match = w.text;
      e.pattern_word = a.words[++i];
    } else if (refuse_unsupported(
                   a, w, {"string-lf", "binary-lf", "on-success", "on-error", "status-code"})) {
      return std::nullopt;
    } else {
      a.error_at(w, fmt::format("unexpected '{}' in 'tcp-check expect'", w.text),
                 match ? "escape spaces inside the pattern with a backslash"
                       : "'tcp-check expect' takes: min-recv N, comment TEXT, ok-status S, "
                         "error-status S, tout-status S, [!] string|rstring|binary|rbinary "
                         "PATTERN");
      return std::nullopt;
    }
  }
  if (e.match.empty()) {
    a.error_missing(match ? fmt::format("'tcp-check expect {}' expects a pattern", match->text)
                          : std::string("'tcp-check expect' expects a match and a pattern"),
                    "for example: tcp-check expect string +PONG");
    return std::nullopt;
  }
  if (e.match == "binary") {
    auto bytes = decode_hex(a, e.pattern_word);
    if (!bytes) return std::nullopt;
    e.pattern = std::move(*bytes);
  } else {
    e.pattern = e.pattern_word.text;
  }
  return e;
}

}  // namespace

std::optional<ast::Payload> parse_tcp_check_comment(Args& a) {
  if (!a.count(1, 1)) return std::nullopt;
  ast::TcpCheck c;
  c.comment = a.words[0].text;
  return c;
}
std::optional<ast::Payload> parse_tcp_check_connect(Args& a) {
  return parse_connect(a);
}
std::optional<ast::Payload> parse_tcp_check_send(Args& a) {
  return parse_send(a, false);
}
std::optional<ast::Payload> parse_tcp_check_send_binary(Args& a) {
  return parse_send(a, true);
}
std::optional<ast::Payload> parse_tcp_check_expect(Args& a) {
  return parse_expect(a);
}

}  // namespace sluice::parser
