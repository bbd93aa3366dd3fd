// The `global` section's keyword table.
#include <fmt/format.h>

#include <algorithm>

#include "parser/keywords.hpp"
#include "parser/suggest.hpp"
#include "parser/vocabulary.hpp"

namespace sluice::parser {

namespace {

using ast::Support;
constexpr auto parsed = Support::parsed_only;

// `ssl-default-bind-options` / `ssl-default-server-options`.
std::optional<ast::Payload> parse_ssl_options(Args& a) {
  if (!a.count(1, SIZE_MAX)) return std::nullopt;
  static constexpr std::string_view flags[] = {
      "no-sslv3",  "no-tls-tickets",       "no-tlsv10", "no-tlsv11", "no-tlsv12",
      "no-tlsv13", "prefer-client-ciphers"};
  for (std::size_t i = 0; i < a.words.size(); ++i) {
    const Word& w = a.words[i];
    bool known = false;
    for (auto f : flags)
      known = known || f == w.text;
    if (known) continue;
    if (w.text == "ssl-min-ver" || w.text == "ssl-max-ver") {
      if (i + 1 >= a.words.size()) {
        a.error_missing(fmt::format("'{}' expects a TLS version", w.text));
        return std::nullopt;
      }
      const auto& v = a.words[++i].text;
      if (v != "SSLv3" && v != "TLSv1.0" && v != "TLSv1.1" && v != "TLSv1.2" && v != "TLSv1.3") {
        a.error_at(a.words[i], fmt::format("'{}' is not a TLS version", v),
                   "versions: SSLv3 TLSv1.0 TLSv1.1 TLSv1.2 TLSv1.3");
        return std::nullopt;
      }
      continue;
    }
    if (vocabulary::contains(vocabulary::bind_settings(), w.text) ||
        vocabulary::contains(vocabulary::server_settings(), w.text))
      a.error_at(w,
                 fmt::format("'{}': option '{}' is valid HAProxy but not supported by sluice",
                             a.path, w.text),
                 "sluice supports no-sslv3, no-tlsv10, no-tlsv11, no-tlsv12, no-tlsv13, "
                 "no-tls-tickets, ssl-min-ver, ssl-max-ver and prefer-client-ciphers here");
    else
      a.error_at(w, fmt::format("'{}': unknown option '{}'", a.path, w.text),
                 did_you_mean(w.text, flags));
    return std::nullopt;
  }
  return ast::Words{{a.words.begin(), a.words.end()}};
}

std::optional<ast::Payload> parse_stats(Args& a) {
  if (!a.count(1, SIZE_MAX)) return std::nullopt;
  const auto& sub = a.words[0].text;
  if (sub != "socket" && sub != "timeout" && sub != "maxconn" && sub != "bind-process") {
    a.error_at(a.words[0], fmt::format("'stats {}' is not a global stats keyword", sub),
               "global 'stats' takes: socket, timeout, maxconn");
    return std::nullopt;
  }
  return ast::Words{{a.words.begin(), a.words.end()}};
}

std::optional<ast::Payload> parse_ssl_server_verify(Args& a) {
  if (!a.count(1, 1)) return std::nullopt;
  if (a.words[0].text != "none" && a.words[0].text != "required") {
    a.error_at(a.words[0], fmt::format("unknown 'ssl-server-verify' value '{}'", a.words[0].text),
               "ssl-server-verify takes 'none' or 'required'");
    return std::nullopt;
  }
  return ast::Text{a.words[0]};
}

// `log-send-hostname [NAME]`.
std::optional<ast::Payload> parse_optional_word(Args& a) {
  if (!a.count(0, 1)) return std::nullopt;
  return ast::Words{{a.words.begin(), a.words.end()}};
}

constexpr unsigned G = in_global;

constexpr KeywordRow rows[] = {
    {"ca-base", G, Side::any, WrongSide::warn_ignored, false, Support::enforced, parse_text},
    {"chroot", G, Side::any, WrongSide::warn_ignored, false, parsed, parse_text},
    {"crt-base", G, Side::any, WrongSide::warn_ignored, false, Support::enforced, parse_text},
    {"daemon", G, Side::any, WrongSide::warn_ignored, false, Support::enforced, parse_flag},
    {"group", G, Side::any, WrongSide::warn_ignored, false, parsed, parse_text},
    {"hard-stop-after", G, Side::any, WrongSide::warn_ignored, false, Support::enforced,
     parse_duration},
    {"log", G, Side::any, WrongSide::warn_ignored, false, Support::enforced, parse_log},
    {"log-send-hostname", G, Side::any, WrongSide::warn_ignored, false, Support::enforced,
     parse_optional_word},
    {"log-tag", G, Side::any, WrongSide::warn_ignored, false, Support::enforced, parse_text},
    {"master-worker", G, Side::any, WrongSide::warn_ignored, false, Support::enforced, parse_flag},
    {"maxconn", G, Side::any, WrongSide::warn_ignored, false, Support::enforced,
     parse_bounded_integer<1, INT32_MAX>},
    {"nbthread", G, Side::any, WrongSide::warn_ignored, false, Support::enforced,
     // HAProxy 2.6 as Debian builds it (MAX_THREADS) accepts at most 64.
     parse_bounded_integer<1, 64>},
    {"noreuseport", G, Side::any, WrongSide::warn_ignored, false, Support::enforced, parse_flag},
    {"pidfile", G, Side::any, WrongSide::warn_ignored, false, Support::enforced, parse_text},
    {"spread-checks", G, Side::any, WrongSide::warn_ignored, false, Support::enforced,
     parse_bounded_integer<0, 50>},
    {"ssl-default-bind-ciphers", G, Side::any, WrongSide::warn_ignored, false, Support::enforced,
     parse_text},
    {"ssl-default-bind-ciphersuites", G, Side::any, WrongSide::warn_ignored, false,
     Support::enforced, parse_text},
    {"ssl-default-bind-curves", G, Side::any, WrongSide::warn_ignored, false, Support::enforced,
     parse_text},
    {"ssl-default-bind-options", G, Side::any, WrongSide::warn_ignored, false, Support::enforced,
     parse_ssl_options},
    {"ssl-default-server-ciphers", G, Side::any, WrongSide::warn_ignored, false, Support::enforced,
     parse_text},
    {"ssl-default-server-ciphersuites", G, Side::any, WrongSide::warn_ignored, false,
     Support::enforced, parse_text},
    {"ssl-default-server-options", G, Side::any, WrongSide::warn_ignored, false, Support::enforced,
     parse_ssl_options},
    {"ssl-dh-param-file", G, Side::any, WrongSide::warn_ignored, false, Support::enforced,
     parse_text},
    {"ssl-server-verify", G, Side::any, WrongSide::warn_ignored, false, Support::enforced,
     parse_ssl_server_verify},
    {"stats", G, Side::any, WrongSide::warn_ignored, false, parsed, parse_stats},
    // The runtime API socket: an address and bind settings (level, mode, expose-fd …).
    {"stats socket", G, Side::any, WrongSide::warn_ignored, false, Support::enforced,
     parse_bind_line},
    {"stats timeout", G, Side::any, WrongSide::warn_ignored, false, Support::enforced,
     parse_duration},
    {"tune.bufsize", G, Side::any, WrongSide::warn_ignored, false, parsed,
     parse_bounded_integer<0, INT32_MAX>},
    {"tune.h2.initial-window-size", G, Side::any, WrongSide::warn_ignored, false, Support::enforced,
     parse_bounded_integer<0, INT32_MAX>},
    {"tune.h2.max-concurrent-streams", G, Side::any, WrongSide::warn_ignored, false,
     Support::enforced, parse_bounded_integer<0, INT32_MAX>},
    {"tune.http.maxhdr", G, Side::any, WrongSide::warn_ignored, false, parsed,
     parse_bounded_integer<1, 32767>},
    {"tune.maxrewrite", G, Side::any, WrongSide::warn_ignored, false, parsed,
     parse_bounded_integer<0, INT32_MAX>},
    {"tune.ssl.cachesize", G, Side::any, WrongSide::warn_ignored, false, Support::enforced,
     parse_bounded_integer<0, INT32_MAX>},
    {"tune.ssl.default-dh-param", G, Side::any, WrongSide::warn_ignored, false, parsed,
     parse_bounded_integer<1024, 16384>},
    {"tune.ssl.lifetime", G, Side::any, WrongSide::warn_ignored, false, Support::enforced,
     parse_duration},
    {"user", G, Side::any, WrongSide::warn_ignored, false, parsed, parse_text},
    {"zero-warning", G, Side::any, WrongSide::warn_ignored, false, Support::enforced, parse_flag},
};

static_assert(std::is_sorted(std::begin(rows), std::end(rows),
                             [](const KeywordRow& a, const KeywordRow& b) {
                               return a.path < b.path;
                             }),
              "find_row() binary-searches the table");

}  // namespace

std::span<const KeywordRow> global_keyword_rows() {
  return rows;
}

}  // namespace sluice::parser
