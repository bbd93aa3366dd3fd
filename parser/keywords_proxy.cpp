// Keyword table of proxy sections (defaults, frontend, backend, listen) and the parsers of
// their settings; the parsers of rules (http-request, redirect, ...) are in keywords_rules.cpp.
#include <fmt/format.h>

#include <algorithm>

#include "parser/condition.hpp"
#include "parser/keywords.hpp"
#include "parser/sample.hpp"
#include "parser/suggest.hpp"
#include "parser/vocabulary.hpp"

namespace sluice::parser {

namespace {

using ast::Support;

// The rest of a word from `offset` on, when the word's text matches its source bytes.
Location inside(const Word& word, std::uint32_t offset) {
  Location at = word.loc;
  if (word.quoted || offset >= word.text.size()) return at;
  at.col += offset;
  at.length = static_cast<std::uint32_t>(word.text.size()) - offset;
  return at;
}

std::optional<ast::Payload> parse_mode(Args& a) {
  if (!a.count(1, 1)) return std::nullopt;
  const Word& w = a.words[0];
  if (w.text == "http") return ast::Mode{ast::ProxyMode::http};
  if (w.text == "tcp") return ast::Mode{ast::ProxyMode::tcp};
  if (w.text == "health")
    a.error_at(w, "'mode health' was removed from HAProxy in 2.4", "use 'monitor-uri' instead");
  else
    a.error_at(w, fmt::format("unknown proxy mode '{}'", w.text), "modes: http, tcp");
  return std::nullopt;
}

std::optional<ast::Payload> parse_bind(Args& a) {
  if (!a.count(1, SIZE_MAX)) return std::nullopt;
  const Word& addr = a.words[0];
  auto parsed = parse_address_list(addr.text, AddressUse::bind);
  if (auto* err = error_of(parsed)) {
    a.diags.error(inside(addr, err->offset), fmt::format("{}: {}", a.path, err->message),
                  err->hint);
    return std::nullopt;
  }
  auto settings = parse_bind_settings(a.words.subspan(1), a.diags);
  if (!settings) return std::nullopt;
  return ast::Bind{addr, std::get<std::vector<Address>>(std::move(parsed)), std::move(*settings)};
}

std::optional<ast::Payload> parse_server(Args& a) {
  if (!a.count(2, SIZE_MAX)) return std::nullopt;
  const Word& addr = a.words[1];
  auto parsed = parse_address(addr.text, AddressUse::server);
  if (auto* err = error_of(parsed)) {
    a.diags.error(inside(addr, err->offset),
                  fmt::format("server '{}': {}", a.words[0].text, err->message), err->hint);
    return std::nullopt;
  }
  auto settings = parse_server_settings(a.words.subspan(2), a.diags);
  if (!settings) return std::nullopt;
  return ast::Server{a.words[0], addr, std::get<Address>(std::move(parsed)), std::move(*settings)};
}

std::optional<ast::Payload> parse_default_server(Args& a) {
  auto settings = parse_server_settings(a.words, a.diags);
  if (!settings) return std::nullopt;
  return ast::DefaultServer{std::move(*settings)};
}

std::optional<ast::Payload> parse_default_backend(Args& a) {
  if (!a.count(1, 1)) return std::nullopt;
  return ast::BackendRef{a.words[0], std::nullopt};
}

std::optional<ast::Payload> parse_use_backend(Args& a) {
  std::span<const Word> rest;
  std::optional<ast::Condition> cond;
  if (!a.split_condition(rest, cond)) return std::nullopt;
  if (rest.size() != 1) {
    if (rest.empty())
      a.error_missing("'use_backend' expects a backend name");
    else
      a.error_at(rest[1], fmt::format("unexpected '{}' after the backend name", rest[1].text),
                 "conditions start with 'if' or 'unless'");
    return std::nullopt;
  }
  return ast::BackendRef{rest[0], std::move(cond)};
}

bool valid_acl_name(std::string_view name) {
  for (char c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-' &&
        c != ':')
      return false;
  return !name.empty();
}

std::optional<ast::Payload> parse_acl(Args& a) {
  if (!a.count(2, SIZE_MAX)) return std::nullopt;
  const Word& name = a.words[0];
  if (!valid_acl_name(name.text)) {
    a.error_at(name, fmt::format("invalid character in ACL name '{}'", name.text),
               "ACL names use letters, digits and _ . : -");
    return std::nullopt;
  }
  auto expr = parse_acl_expr(a.words.subspan(1), a.diags);
  if (!expr) return std::nullopt;
  return ast::Acl{name, std::move(*expr)};
}

std::optional<ast::Payload> parse_balance(Args& a) {
  if (!a.count(1, SIZE_MAX)) return std::nullopt;
  const Word& algo = a.words[0];
  auto args = a.words.subspan(1);
  const bool hdr =
      algo.text.starts_with("hdr(") && algo.text.ends_with(")") && algo.text.size() > 5;
  const bool random =
      algo.text == "random" || (algo.text.starts_with("random(") && algo.text.ends_with(")"));
  if (is_one_of(algo.text, {"roundrobin", "static-rr", "leastconn", "first", "source"})) {
    if (!args.empty()) {
      a.error_at(args[0], fmt::format("'balance {}' takes no argument", algo.text));
      return std::nullopt;
    }
  } else if (algo.text == "uri") {
    for (std::size_t i = 0; i < args.size(); ++i) {
      if (is_one_of(args[i].text, {"whole", "path-only"})) continue;
      if (is_one_of(args[i].text, {"len", "depth"}) && i + 1 < args.size()) {
        if (!a.integer(args[++i], 0, INT32_MAX)) return std::nullopt;
        continue;
      }
      a.error_at(args[i], fmt::format("unexpected '{}' after 'balance uri'", args[i].text),
                 "'balance uri' takes: whole, path-only, len N, depth N");
      return std::nullopt;
    }
  } else if (hdr) {
    if (!args.empty() && !(args.size() == 1 && args[0].text == "use_domain_only")) {
      a.error_at(args[0], fmt::format("unexpected '{}' after 'balance hdr()'", args[0].text));
      return std::nullopt;
    }
  } else if (random) {
    if (algo.text != "random" &&
        !a.integer(Word{algo.text.substr(7, algo.text.size() - 8), algo.loc, false}, 1, INT32_MAX))
      return std::nullopt;
  } else if (is_one_of(algo.text, {"url_param", "rdp-cookie", "hash"}) ||
             algo.text.starts_with("rdp-cookie(") || algo.text.starts_with("hash(")) {
    a.error_at(algo,
               fmt::format("'balance {}' is valid HAProxy but not supported by sluice", algo.text));
    return std::nullopt;
  } else {
    static constexpr std::string_view known[] = {"first",      "hdr(",   "leastconn", "random",
                                                 "roundrobin", "source", "static-rr", "uri"};
    a.error_at(algo, fmt::format("unknown load balancing algorithm '{}'", algo.text),
               did_you_mean(algo.text, known));
    return std::nullopt;
  }
  return ast::Balance{algo, {args.begin(), args.end()}};
}

std::optional<ast::Payload> parse_option_plain(Args& a) {
  if (!a.count(0, 0)) return std::nullopt;
  return ast::Option{Word{std::string(a.path.substr(7)), a.keyword.loc, false}, false, {}};
}

// `option forwardfor [except NET] [header NAME] [if-none]`.
std::optional<ast::Payload> parse_option_forwardfor(Args& a) {
  for (std::size_t i = 0; i < a.words.size(); ++i) {
    const Word& w = a.words[i];
    if (w.text == "if-none") continue;
    if ((w.text == "except" || w.text == "header") && i + 1 < a.words.size()) {
      ++i;
      if (w.text == "except") {
        auto net = a.words[i].text;
        auto slash = net.find('/');
        auto addr = parse_address(net.substr(0, slash), AddressUse::server);
        auto* address = std::get_if<Address>(&addr);
        if (!address ||
            (address->family != AddressFamily::ipv4 && address->family != AddressFamily::ipv6)) {
          a.error_at(a.words[i], fmt::format("'{}' is not a network", net),
                     "write an address with an optional mask, as in 127.0.0.0/8");
          return std::nullopt;
        }
      }
      continue;
    }
    a.error_at(w, fmt::format("unexpected '{}' in 'option forwardfor'", w.text),
               "'option forwardfor' takes: except NETWORK, header NAME, if-none");
    return std::nullopt;
  }
  return ast::Option{
      Word{"forwardfor", a.keyword.loc, false}, false, {a.words.begin(), a.words.end()}};
}

// `option httpchk [METHOD] [URI] [VERSION]`, or `option httpchk URI`.
std::optional<ast::Payload> parse_option_httpchk(Args& a) {
  if (!a.count(0, 3)) return std::nullopt;
  return ast::Option{
      Word{"httpchk", a.keyword.loc, false}, false, {a.words.begin(), a.words.end()}};
}

std::optional<ast::Payload> parse_option_httplog(Args& a) {
  if (!a.count(0, 1)) return std::nullopt;
  if (a.words.size() == 1 && a.words[0].text != "clf") {
    a.error_at(a.words[0], fmt::format("unexpected '{}' in 'option httplog'", a.words[0].text),
               "the only argument is 'clf'");
    return std::nullopt;
  }
  if (a.words.size() == 1) {
    a.error_at(a.words[0], "'option httplog clf' is valid HAProxy but not supported by sluice",
               "use 'option httplog' (HAProxy's default HTTP format)");
    return std::nullopt;
  }
  return ast::Option{
      Word{"httplog", a.keyword.loc, false}, false, {a.words.begin(), a.words.end()}};
}

std::optional<ast::Payload> parse_log_keyword(Args& a) {
  if (a.words.empty()) {
    // Only `no log` may stand without arguments; the caller marks it disabled.
    return ast::Log{};
  }
  return parse_log(a);
}

std::optional<ast::Payload> parse_http_reuse(Args& a) {
  if (!a.count(1, 1)) return std::nullopt;
  if (!is_one_of(a.words[0].text, {"never", "safe", "aggressive", "always"})) {
    a.error_at(a.words[0], fmt::format("unknown 'http-reuse' mode '{}'", a.words[0].text),
               "modes: never, safe, aggressive, always");
    return std::nullopt;
  }
  return ast::Text{a.words[0]};
}

std::optional<ast::Payload> parse_hash_type(Args& a) {
  if (!a.count(1, 3)) return std::nullopt;
  if (!is_one_of(a.words[0].text, {"map-based", "consistent"})) {
    a.error_at(a.words[0], fmt::format("unknown hash method '{}'", a.words[0].text),
               "methods: map-based, consistent");
    return std::nullopt;
  }
  for (auto& w : a.words.subspan(1)) {
    if (!is_one_of(w.text, {"sdbm", "djb2", "wt6", "crc32", "none", "avalanche"})) {
      a.error_at(w, fmt::format("unknown hash function '{}'", w.text),
                 "functions: sdbm djb2 wt6 crc32 none, optionally followed by avalanche");
      return std::nullopt;
    }
  }
  return ast::Words{{a.words.begin(), a.words.end()}};
}

std::optional<ast::Payload> parse_errorfile(Args& a) {
  if (!a.count(2, 2)) return std::nullopt;
  auto code = a.integer(a.words[0], 100, 599);
  if (!code) return std::nullopt;
  static constexpr int codes[] = {200, 400, 401, 403, 404, 405, 407, 408, 410,
                                  413, 425, 429, 500, 501, 502, 503, 504};
  bool known = false;
  for (int c : codes)
    known = known || c == *code;
  if (!known) {
    a.error_at(a.words[0], fmt::format("'errorfile' does not support status {}", *code),
               "statuses: 200 400 401 403 404 405 407 408 410 413 425 429 500 501 502 503 504");
    return std::nullopt;
  }
  return ast::ErrorFile{*code, a.words[1]};
}

// ---- rules -----------------------------------------------------------------------------

constexpr unsigned D = in_defaults, F = in_frontend, B = in_backend, L = in_listen;
constexpr unsigned DFLB = D | F | L | B, FLB = F | L | B;
constexpr auto W = WrongSide::warn_ignored;
constexpr auto E = WrongSide::error;

// HAProxy's matrix (configuration.txt 4.1): which sections, which side of the proxy.
constexpr KeywordRow rows[] = {
    {"acl", DFLB, Side::any, W, true, Support::enforced, parse_acl},
    {"balance", D | L | B, Side::backend, W, false, Support::enforced, parse_balance},
    {"bind", F | L | B, Side::frontend, W, false, Support::enforced, parse_bind},
    {"default-server", D | L | B, Side::backend, E, false, Support::enforced, parse_default_server},
    {"default_backend", D | F | L | B, Side::frontend, W, false, Support::enforced,
     parse_default_backend},
    {"errorfile", DFLB, Side::any, W, false, Support::enforced, parse_errorfile},
    {"hash-type", D | L | B, Side::backend, W, false, Support::enforced, parse_hash_type},
    {"http-check expect", D | L | B, Side::backend, W, false, Support::enforced,
     parse_http_check_expect},
    {"http-check send", D | L | B, Side::backend, W, false, Support::enforced,
     parse_http_check_send},
    {"http-request", DFLB, Side::any, W, true, Support::enforced, parse_http_request_rule},
    {"http-response", DFLB, Side::any, W, true, Support::enforced, parse_http_response_rule},
    {"http-reuse", D | L | B, Side::backend, W, false, Support::enforced, parse_http_reuse},
    {"log", DFLB, Side::any, W, false, Support::enforced, parse_log_keyword},
    {"log-tag", DFLB, Side::any, W, false, Support::enforced, parse_text},
    {"maxconn", D | F | L | B, Side::frontend, W, false, Support::enforced,
     parse_bounded_integer<0, INT32_MAX>},
    {"mode", DFLB, Side::any, W, false, Support::enforced, parse_mode},
    {"option allbackups", D | L | B, Side::backend, W, false, Support::enforced,
     parse_option_plain},
    {"option dontlognull", D | F | L | B, Side::frontend, W, false, Support::enforced,
     parse_option_plain},
    {"option forwardfor", DFLB, Side::any, W, false, Support::enforced, parse_option_forwardfor},
    {"option http-keep-alive", DFLB, Side::any, W, false, Support::enforced, parse_option_plain},
    {"option http-server-close", DFLB, Side::any, W, false, Support::enforced, parse_option_plain},
    {"option httpchk", D | L | B, Side::backend, W, false, Support::enforced, parse_option_httpchk},
    {"option httpclose", DFLB, Side::any, W, false, Support::enforced, parse_option_plain},
    {"option httplog", DFLB, Side::any, W, false, Support::enforced, parse_option_httplog},
    {"option log-health-checks", D | L | B, Side::backend, W, false, Support::enforced,
     parse_option_plain},
    {"option redispatch", D | L | B, Side::backend, W, false, Support::enforced,
     parse_option_plain},
    {"option ssl-hello-chk", D | L | B, Side::backend, W, false, Support::enforced,
     parse_option_plain},
    {"option tcp-check", D | L | B, Side::backend, W, false, Support::enforced, parse_option_plain},
    {"option tcplog", DFLB, Side::any, W, false, Support::enforced, parse_option_plain},
    {"redirect", FLB, Side::any, W, false, Support::enforced, parse_redirect},
    {"retries", D | L | B, Side::backend, W, false, Support::enforced,
     parse_bounded_integer<0, INT32_MAX>},
    {"server", L | B | F, Side::backend, E, false, Support::enforced, parse_server},
    {"tcp-check comment", D | L | B, Side::backend, W, false, Support::enforced,
     parse_tcp_check_comment},
    {"tcp-check connect", D | L | B, Side::backend, W, false, Support::enforced,
     parse_tcp_check_connect},
    {"tcp-check expect", D | L | B, Side::backend, W, false, Support::enforced,
     parse_tcp_check_expect},
    {"tcp-check send", D | L | B, Side::backend, W, false, Support::enforced, parse_tcp_check_send},
    {"tcp-check send-binary", D | L | B, Side::backend, W, false, Support::enforced,
     parse_tcp_check_send_binary},
    {"tcp-request connection", D | F | L | B, Side::frontend, W, true, Support::enforced,
     parse_tcp_connection},
    {"tcp-request content", DFLB, Side::any, W, true, Support::enforced, parse_tcp_content},
    {"tcp-request inspect-delay", DFLB, Side::any, W, true, Support::enforced, parse_duration},
    {"timeout check", D | L | B, Side::backend, W, false, Support::enforced, parse_duration},
    {"timeout client", D | F | L | B, Side::frontend, W, false, Support::enforced, parse_duration},
    {"timeout client-fin", D | F | L | B, Side::frontend, W, false, Support::enforced,
     parse_duration},
    {"timeout connect", D | L | B, Side::backend, W, false, Support::enforced, parse_duration},
    {"timeout http-keep-alive", DFLB, Side::any, W, false, Support::enforced, parse_duration},
    {"timeout http-request", DFLB, Side::any, W, false, Support::enforced, parse_duration},
    {"timeout queue", D | L | B, Side::backend, W, false, Support::enforced, parse_duration},
    {"timeout server", D | L | B, Side::backend, W, false, Support::enforced, parse_duration},
    {"timeout server-fin", D | L | B, Side::backend, W, false, Support::enforced, parse_duration},
    {"timeout tunnel", D | L | B, Side::backend, W, false, Support::enforced, parse_duration},
    {"use_backend", F | L | B, Side::frontend, W, false, Support::enforced, parse_use_backend},
};

static_assert(std::is_sorted(std::begin(rows), std::end(rows),
                             [](const KeywordRow& a, const KeywordRow& b) {
                               return a.path < b.path;
                             }),
              "find_row() binary-searches the table");

}  // namespace

std::optional<ast::Payload> parse_bind_line(Args& a) {
  return parse_bind(a);
}

std::span<const KeywordRow> proxy_keyword_rows() {
  return rows;
}

bool option_negatable(std::string_view path) {
  // configuration.txt 4.1 marks these "(*)"; forwardfor, httpchk, httplog, tcplog,
  // ssl-hello-chk and tcp-check are not, and HAProxy refuses `no` before them.
  static constexpr std::string_view negatable[] = {
      "option allbackups",        "option dontlognull", "option http-keep-alive",
      "option http-server-close", "option httpclose",   "option log-health-checks",
      "option redispatch"};
  return std::find(std::begin(negatable), std::end(negatable), path) != std::end(negatable);
}

}  // namespace sluice::parser
