// Keyword table of proxy sections (defaults, frontend, backend, listen) and their parsers.
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

bool is_one_of(std::string_view word, std::initializer_list<std::string_view> list) {
  for (auto item : list)
    if (item == word) return true;
  return false;
}

// Splits off a trailing `if|unless COND`; `rest` gets the words before it.
bool take_condition(Args& a, std::span<const Word>& rest, std::optional<ast::Condition>& cond) {
  const std::size_t at = condition_start(a.words);
  rest = a.words.subspan(0, at);
  if (at == a.words.size()) return true;
  cond = parse_condition(a.words.subspan(at), a.diags);
  return cond.has_value();
}

std::optional<std::int64_t> integer_arg(Args& a, const Word& w, std::int64_t min,
                                        std::int64_t max) {
  auto v = parse_integer(w.text, min, max);
  if (auto* err = error_of(v)) {
    a.error_at(w, fmt::format("'{}': {}", a.path, err->message));
    return std::nullopt;
  }
  return std::get<std::int64_t>(v);
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
    Location at = addr.loc;
    if (!addr.quoted) at.col += err->offset;
    a.diags.error(at, fmt::format("bind: {}", err->message), err->hint);
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
    Location at = addr.loc;
    if (!addr.quoted) at.col += err->offset;
    a.diags.error(at, fmt::format("server '{}': {}", a.words[0].text, err->message), err->hint);
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
  if (!take_condition(a, rest, cond)) return std::nullopt;
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
        if (!integer_arg(a, args[++i], 0, INT32_MAX)) return std::nullopt;
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
        !integer_arg(a, Word{algo.text.substr(7, algo.text.size() - 8), algo.loc, false}, 1,
                     INT32_MAX))
      return std::nullopt;
  } else if (is_one_of(algo.text, {"url_param", "rdp-cookie", "hash"}) ||
             algo.text.starts_with("rdp-cookie(") || algo.text.starts_with("hash(")) {
    a.error_at(algo,
               fmt::format("'balance {}' is valid HAProxy but not supported by sluice", algo.text));
    return std::nullopt;
  } else {
    static constexpr std::string_view known[] = {"first",      "hdr(",   "leastconn", "random",
                                                 "roundrobin", "source", "static-rr", "uri"};
    auto hint = closest(algo.text, known);
    a.error_at(algo, fmt::format("unknown load balancing algorithm '{}'", algo.text),
               hint ? fmt::format("did you mean '{}'?", *hint) : "");
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

std::optional<ast::Payload> parse_retries(Args& a) {
  if (!a.count(1, 1)) return std::nullopt;
  auto v = integer_arg(a, a.words[0], 0, INT32_MAX);
  if (!v) return std::nullopt;
  return ast::Integer{*v};
}

std::optional<ast::Payload> parse_maxconn(Args& a) {
  if (!a.count(1, 1)) return std::nullopt;
  auto v = integer_arg(a, a.words[0], 0, INT32_MAX);
  if (!v) return std::nullopt;
  return ast::Integer{*v};
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
  auto code = integer_arg(a, a.words[0], 100, 599);
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

std::optional<std::int64_t> redirect_code(Args& a, const Word& w) {
  auto code = integer_arg(a, w, 0, 999);
  if (!code) return std::nullopt;
  if (!is_one_of(w.text, {"301", "302", "303", "307", "308"})) {
    a.error_at(w, fmt::format("invalid redirect code {}", w.text),
               "codes: 301, 302, 303, 307, 308");
    return std::nullopt;
  }
  return code;
}

// `location|prefix|scheme TARGET [code N] [drop-query] [append-slash] ...`.
std::optional<ast::RedirectAction> parse_redirect_action(Args& a, std::span<const Word> words) {
  if (words.size() < 2) {
    a.error_missing("'redirect' expects a type and a target",
                    "for example: redirect scheme https code 301 if !{ ssl_fc }");
    return std::nullopt;
  }
  ast::RedirectAction r;
  const Word& type = words[0];
  if (type.text == "location")
    r.kind = ast::RedirectAction::Kind::location;
  else if (type.text == "prefix")
    r.kind = ast::RedirectAction::Kind::prefix;
  else if (type.text == "scheme")
    r.kind = ast::RedirectAction::Kind::scheme;
  else {
    a.error_at(type, fmt::format("unknown redirect type '{}'", type.text),
               "types: location, prefix, scheme");
    return std::nullopt;
  }
  auto target = parse_log_format(words[1], a.diags);
  if (!target) return std::nullopt;
  r.target = std::move(*target);
  for (std::size_t i = 2; i < words.size(); ++i) {
    const Word& w = words[i];
    if (w.text == "code" && i + 1 < words.size()) {
      auto code = redirect_code(a, words[++i]);
      if (!code) return std::nullopt;
      r.code = *code;
    } else if (w.text == "drop-query") {
      r.drop_query = true;
    } else if (w.text == "append-slash") {
      r.append_slash = true;
    } else if (is_one_of(w.text, {"set-cookie", "clear-cookie", "ignore-empty"})) {
      a.error_at(w, fmt::format("redirect option '{}' is valid HAProxy but not supported by "
                                "sluice",
                                w.text));
      return std::nullopt;
    } else {
      a.error_at(w, fmt::format("unexpected '{}' in redirect", w.text),
                 "options: code N, drop-query, append-slash");
      return std::nullopt;
    }
  }
  return r;
}

std::optional<ast::Payload> parse_redirect(Args& a) {
  std::span<const Word> rest;
  std::optional<ast::Condition> cond;
  if (!take_condition(a, rest, cond)) return std::nullopt;
  auto action = parse_redirect_action(a, rest);
  if (!action) return std::nullopt;
  return ast::HttpRule{a.keyword, std::move(*action), std::move(cond)};
}

std::optional<std::int64_t> http_status(Args& a, const Word& w) {
  return integer_arg(a, w, 200, 599);
}

std::optional<ast::HttpAction> parse_header_action(Args& a, const Word& name,
                                                   std::span<const Word> words) {
  ast::HeaderAction h;
  const auto& n = name.text;
  const std::size_t want = n == "del-header" ? 1 : n == "replace-header" ? 3 : 2;
  if (n == "del-header" && words.size() == 3 && words[1].text == "-m") {
    a.error_at(words[1], "'del-header -m' is valid HAProxy but not supported by sluice");
    return std::nullopt;
  }
  if (words.size() != want) {
    if (words.size() < want)
      a.error_missing(fmt::format("'{}' expects {} argument(s)", n, want));
    else
      a.error_at(words[want], fmt::format("unexpected '{}' after '{}'", words[want].text, n),
                 "conditions start with 'if' or 'unless'");
    return std::nullopt;
  }
  h.kind = n == "set-header"       ? ast::HeaderAction::Kind::set
           : n == "add-header"     ? ast::HeaderAction::Kind::add
           : n == "replace-header" ? ast::HeaderAction::Kind::replace
                                   : ast::HeaderAction::Kind::del;
  h.name = words[0];
  if (h.kind == ast::HeaderAction::Kind::replace) h.regex = words[1];
  if (want > 1) {
    auto value = parse_log_format(words.back(), a.diags);
    if (!value) return std::nullopt;
    h.value = std::move(*value);
  }
  return h;
}

std::optional<ast::HttpAction> parse_deny(Args& a, std::span<const Word> words) {
  ast::DenyAction d;
  for (std::size_t i = 0; i < words.size(); ++i) {
    if (words[i].text == "deny_status" && i + 1 < words.size()) {
      auto s = http_status(a, words[++i]);
      if (!s) return std::nullopt;
      d.status = *s;
      continue;
    }
    a.error_at(words[i], fmt::format("unexpected '{}' after 'deny'", words[i].text),
               "'deny' takes 'deny_status CODE'");
    return std::nullopt;
  }
  return d;
}

std::optional<ast::HttpAction> parse_return(Args& a, std::span<const Word> words) {
  ast::ReturnAction r;
  for (std::size_t i = 0; i < words.size(); ++i) {
    const Word& w = words[i];
    const bool has_value = i + 1 < words.size();
    using Body = ast::ReturnAction::Body;
    if (w.text == "status" && has_value) {
      auto s = http_status(a, words[++i]);
      if (!s) return std::nullopt;
      r.status = *s;
    } else if (w.text == "content-type" && has_value) {
      r.content_type = words[++i];
    } else if (is_one_of(w.text, {"string", "lf-string", "file", "lf-file", "errorfile"}) &&
               has_value) {
      if (r.body_kind != Body::none) {
        a.error_at(w, "'return' takes only one body");
        return std::nullopt;
      }
      r.body_kind = w.text == "string"      ? Body::string
                    : w.text == "lf-string" ? Body::lf_string
                    : w.text == "file"      ? Body::file
                    : w.text == "lf-file"   ? Body::lf_file
                                            : Body::errorfile;
      r.body = words[++i];
      if (r.body_kind == Body::lf_string && !parse_log_format(*r.body, a.diags))
        return std::nullopt;
    } else if (w.text == "hdr" && i + 2 < words.size()) {
      auto value = parse_log_format(words[i + 2], a.diags);
      if (!value) return std::nullopt;
      r.headers.emplace_back(words[i + 1], std::move(*value));
      i += 2;
    } else if (w.text == "default-errorfiles" || w.text == "errorfiles") {
      a.error_at(w,
                 fmt::format("'return {}' is valid HAProxy but not supported by sluice", w.text));
      return std::nullopt;
    } else {
      a.error_at(w, fmt::format("unexpected '{}' in 'return'", w.text),
                 "'return' takes: status CODE, content-type TYPE, string|lf-string|file|lf-file "
                 "TEXT, hdr NAME VALUE");
      return std::nullopt;
    }
  }
  if (r.body_kind != ast::ReturnAction::Body::none &&
      r.body_kind != ast::ReturnAction::Body::errorfile && !r.content_type) {
    a.error_at(words.front(), "'return' with a body needs 'content-type'",
               "for example: return status 200 content-type text/plain string ok");
    return std::nullopt;
  }
  return r;
}

template <bool request>
std::optional<ast::Payload> parse_http_rule(Args& a) {
  std::span<const Word> rest;
  std::optional<ast::Condition> cond;
  const std::size_t at = condition_start(a.words);
  rest = a.words.subspan(0, at);
  if (rest.empty()) {
    a.error_missing(fmt::format("'{}' expects an action", a.path),
                    request ? "for example: http-request set-header X-Forwarded-Proto https"
                            : "for example: http-response set-header Strict-Transport-Security "
                              "max-age=31536000");
    return std::nullopt;
  }
  const Word& action = rest[0];
  auto args = rest.subspan(1);
  std::optional<ast::HttpAction> parsed;
  const bool header =
      is_one_of(action.text, {"set-header", "add-header", "del-header", "replace-header"});
  if (header) {
    parsed = parse_header_action(a, action, args);
  } else if (request && action.text == "redirect") {
    auto r = parse_redirect_action(a, args);
    if (r) parsed = std::move(*r);
  } else if (action.text == "deny") {
    parsed = parse_deny(a, args);
  } else if (request && action.text == "return") {
    parsed = parse_return(a, args);
  } else if (request && action.text == "set-path") {
    if (args.size() != 1) {
      a.error_missing("'set-path' expects one argument");
    } else if (auto fmt = parse_log_format(args[0], a.diags)) {
      parsed = ast::SetPathAction{std::move(*fmt)};
    }
  } else {
    auto known = request ? vocabulary::http_request_actions() : vocabulary::http_response_actions();
    if (vocabulary::contains(known, action.text)) {
      a.error_at(action, fmt::format("'{} {}' is valid HAProxy but not supported by sluice", a.path,
                                     action.text));
    } else {
      auto hint = closest(action.text, known);
      a.error_at(action, fmt::format("unknown '{}' action '{}'", a.path, action.text),
                 hint ? fmt::format("did you mean '{}'?", *hint) : "");
    }
    return std::nullopt;
  }
  if (!parsed) return std::nullopt;
  if (at < a.words.size()) {
    cond = parse_condition(a.words.subspan(at), a.diags);
    if (!cond) return std::nullopt;
  }
  return ast::HttpRule{action, std::move(*parsed), std::move(cond)};
}

std::optional<ast::Payload> parse_tcp_rule(Args& a, ast::TcpRule::Layer layer,
                                           std::span<const std::string_view> known) {
  std::span<const Word> rest;
  std::optional<ast::Condition> cond;
  if (!take_condition(a, rest, cond)) return std::nullopt;
  if (rest.empty()) {
    a.error_missing(fmt::format("'{}' expects an action", a.path), "actions: accept, reject");
    return std::nullopt;
  }
  const Word& action = rest[0];
  if (action.text != "accept" && action.text != "reject") {
    if (vocabulary::contains(known, action.text))
      a.error_at(action, fmt::format("'{} {}' is valid HAProxy but not supported by sluice", a.path,
                                     action.text));
    else
      a.error_at(action, fmt::format("unknown '{}' action '{}'", a.path, action.text),
                 "actions: accept, reject");
    return std::nullopt;
  }
  if (rest.size() > 1) {
    a.error_at(rest[1], fmt::format("unexpected '{}' after '{}'", rest[1].text, action.text),
               "conditions start with 'if' or 'unless'");
    return std::nullopt;
  }
  return ast::TcpRule{layer, action.text == "accept", std::move(cond)};
}

std::optional<ast::Payload> parse_tcp_content(Args& a) {
  return parse_tcp_rule(a, ast::TcpRule::Layer::content, vocabulary::tcp_request_content_actions());
}
std::optional<ast::Payload> parse_tcp_connection(Args& a) {
  return parse_tcp_rule(a, ast::TcpRule::Layer::connection,
                        vocabulary::tcp_request_connection_actions());
}

// `http-check expect [!] status|rstatus|string|rstring PATTERN`.
std::optional<ast::Payload> parse_http_check_expect(Args& a) {
  std::size_t i = 0;
  ast::HttpCheckExpect e;
  if (i < a.words.size() && a.words[i].text == "!") {
    e.negated = true;
    ++i;
  }
  if (i + 2 != a.words.size()) {
    if (i + 2 > a.words.size())
      a.error_missing("'http-check expect' expects a match and a pattern",
                      "for example: http-check expect status 200");
    else
      a.error_at(a.words[i + 2], fmt::format("unexpected '{}'", a.words[i + 2].text));
    return std::nullopt;
  }
  const Word& kind = a.words[i];
  if (!is_one_of(kind.text, {"status", "rstatus", "string", "rstring"})) {
    if (is_one_of(kind.text,
                  {"hdr", "fhdr", "binary", "rbinary", "binary-lf", "string-lf", "status-lf"}))
      a.error_at(kind, fmt::format("'http-check expect {}' is valid HAProxy but not supported "
                                   "by sluice",
                                   kind.text));
    else
      a.error_at(kind, fmt::format("unknown 'http-check expect' match '{}'", kind.text),
                 "matches: status, rstatus, string, rstring");
    return std::nullopt;
  }
  e.kind = kind;
  e.pattern = a.words[i + 1];
  return e;
}

// `http-check send [meth M] [uri U] [ver V] [hdr NAME VALUE]... [body STRING]`.
std::optional<ast::Payload> parse_http_check_send(Args& a) {
  ast::HttpCheckSend s;
  for (std::size_t i = 0; i < a.words.size(); ++i) {
    const Word& w = a.words[i];
    if (w.text == "hdr" && i + 2 < a.words.size()) {
      s.headers.emplace_back(a.words[i + 1], a.words[i + 2]);
      i += 2;
      continue;
    }
    if (i + 1 < a.words.size()) {
      std::optional<Word>* slot = w.text == "meth"   ? &s.method
                                  : w.text == "uri"  ? &s.uri
                                  : w.text == "ver"  ? &s.version
                                  : w.text == "body" ? &s.body
                                                     : nullptr;
      if (slot) {
        *slot = a.words[++i];
        continue;
      }
    }
    a.error_at(w, fmt::format("unexpected '{}' in 'http-check send'", w.text),
               "'http-check send' takes: meth M, uri U, ver V, hdr NAME VALUE, body STRING");
    return std::nullopt;
  }
  return s;
}

constexpr unsigned D = in_defaults, F = in_frontend, B = in_backend, L = in_listen;
constexpr unsigned DFLB = D | F | L | B, FLB = F | L | B;
constexpr auto W = WrongSide::warn_ignored;
constexpr auto E = WrongSide::error;
constexpr auto P = Support::parsed_only;

// HAProxy's matrix (configuration.txt 4.1): which sections, which side of the proxy.
constexpr KeywordRow rows[] = {
    {"acl", DFLB, Side::any, W, true, P, parse_acl},
    {"balance", D | L | B, Side::backend, W, false, P, parse_balance},
    {"bind", F | L | B, Side::frontend, W, false, P, parse_bind},
    {"default-server", D | L | B, Side::backend, E, false, P, parse_default_server},
    {"default_backend", D | F | L | B, Side::frontend, W, false, P, parse_default_backend},
    {"errorfile", DFLB, Side::any, W, false, P, parse_errorfile},
    {"hash-type", D | L | B, Side::backend, W, false, P, parse_hash_type},
    {"http-check expect", D | L | B, Side::backend, W, false, P, parse_http_check_expect},
    {"http-check send", D | L | B, Side::backend, W, false, P, parse_http_check_send},
    {"http-request", DFLB, Side::any, W, true, P, parse_http_rule<true>},
    {"http-response", DFLB, Side::any, W, true, P, parse_http_rule<false>},
    {"http-reuse", D | L | B, Side::backend, W, false, P, parse_http_reuse},
    {"log", DFLB, Side::any, W, false, P, parse_log_keyword},
    {"maxconn", D | F | L | B, Side::frontend, W, false, P, parse_maxconn},
    {"mode", DFLB, Side::any, W, false, Support::enforced, parse_mode},
    {"option allbackups", D | L | B, Side::backend, W, false, P, parse_option_plain},
    {"option dontlognull", D | F | L | B, Side::frontend, W, false, P, parse_option_plain},
    {"option forwardfor", DFLB, Side::any, W, false, P, parse_option_forwardfor},
    {"option http-keep-alive", DFLB, Side::any, W, false, P, parse_option_plain},
    {"option http-server-close", DFLB, Side::any, W, false, P, parse_option_plain},
    {"option httpchk", D | L | B, Side::backend, W, false, P, parse_option_httpchk},
    {"option httpclose", DFLB, Side::any, W, false, P, parse_option_plain},
    {"option httplog", DFLB, Side::any, W, false, P, parse_option_httplog},
    {"option log-health-checks", D | L | B, Side::backend, W, false, P, parse_option_plain},
    {"option redispatch", D | L | B, Side::backend, W, false, P, parse_option_plain},
    {"option ssl-hello-chk", D | L | B, Side::backend, W, false, P, parse_option_plain},
    {"option tcp-check", D | L | B, Side::backend, W, false, P, parse_option_plain},
    {"option tcplog", DFLB, Side::any, W, false, P, parse_option_plain},
    {"redirect", FLB, Side::any, W, false, P, parse_redirect},
    {"retries", D | L | B, Side::backend, W, false, P, parse_retries},
    {"server", L | B | F, Side::backend, E, false, P, parse_server},
    {"tcp-request connection", D | F | L | B, Side::frontend, W, true, P, parse_tcp_connection},
    {"tcp-request content", DFLB, Side::any, W, true, P, parse_tcp_content},
    {"tcp-request inspect-delay", DFLB, Side::any, W, true, P, parse_duration},
    {"timeout check", D | L | B, Side::backend, W, false, P, parse_duration},
    {"timeout client", D | F | L | B, Side::frontend, W, false, P, parse_duration},
    {"timeout client-fin", D | F | L | B, Side::frontend, W, false, P, parse_duration},
    {"timeout connect", D | L | B, Side::backend, W, false, P, parse_duration},
    {"timeout http-keep-alive", DFLB, Side::any, W, false, P, parse_duration},
    {"timeout http-request", DFLB, Side::any, W, false, P, parse_duration},
    {"timeout queue", D | L | B, Side::backend, W, false, P, parse_duration},
    {"timeout server", D | L | B, Side::backend, W, false, P, parse_duration},
    {"timeout server-fin", D | L | B, Side::backend, W, false, P, parse_duration},
    {"timeout tunnel", D | L | B, Side::backend, W, false, P, parse_duration},
    {"use_backend", F | L | B, Side::frontend, W, false, P, parse_use_backend},
};

static_assert(std::is_sorted(std::begin(rows), std::end(rows),
                             [](const KeywordRow& a, const KeywordRow& b) {
                               return a.path < b.path;
                             }),
              "find_row() binary-searches the table");

}  // namespace

std::span<const KeywordRow> proxy_keyword_rows() {
  return rows;
}

}  // namespace sluice::parser
