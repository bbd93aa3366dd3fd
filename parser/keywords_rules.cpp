// Parsers of rule keywords: http-request, http-response, redirect, tcp-request content and
// connection, http-check expect and send. Their table rows are in keywords_proxy.cpp.
#include <fmt/format.h>

#include "parser/condition.hpp"
#include "parser/keywords.hpp"
#include "parser/sample.hpp"
#include "parser/suggest.hpp"
#include "parser/vocabulary.hpp"

namespace sluice::parser {

namespace {

// `set-var(txn.host)` is the action `set-var` with an argument.
std::string_view action_name(std::string_view word) {
  return word.substr(0, word.find('('));
}

std::optional<std::int64_t> redirect_code(Args& a, const Word& w) {
  auto code = a.integer(w, 0, 999);
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
  auto target = parse_log_format(words[1], FormatContext::any, a.diags);
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

std::optional<ast::Payload> parse_redirect_impl(Args& a) {
  std::span<const Word> rest;
  std::optional<ast::Condition> cond;
  if (!a.split_condition(rest, cond)) return std::nullopt;
  auto action = parse_redirect_action(a, rest);
  if (!action) return std::nullopt;
  return ast::HttpRule{a.keyword, std::move(*action), std::move(cond)};
}

std::optional<std::int64_t> http_status(Args& a, const Word& w) {
  return a.integer(w, 200, 599);
}

std::optional<ast::HttpAction> parse_header_action(Args& a, FormatContext context, const Word& name,
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
    auto value = parse_log_format(words.back(), context, a.diags);
    if (!value) return std::nullopt;
    h.value = std::move(*value);
  }
  return h;
}

// HAProxy's default: 403 for a request, 502 for a response.
std::optional<ast::HttpAction> parse_deny(Args& a, std::span<const Word> words, bool request) {
  ast::DenyAction d;
  d.status = request ? 403 : 502;
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
      if (r.body_kind == Body::lf_string &&
          !parse_log_format(*r.body, FormatContext::request, a.diags))
        return std::nullopt;
    } else if (w.text == "hdr" && i + 2 < words.size()) {
      auto value = parse_log_format(words[i + 2], FormatContext::request, a.diags);
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

std::optional<ast::Payload> parse_http_rule(Args& a, bool request) {
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
    parsed = parse_header_action(a, request ? FormatContext::request : FormatContext::response,
                                 action, args);
  } else if (request && action.text == "redirect") {
    auto r = parse_redirect_action(a, args);
    if (r) parsed = std::move(*r);
  } else if (action.text == "deny") {
    parsed = parse_deny(a, args, request);
  } else if (request && action.text == "return") {
    parsed = parse_return(a, args);
  } else if (request && action.text == "set-path") {
    if (args.size() != 1) {
      a.error_missing("'set-path' expects one argument");
    } else if (auto fmt = parse_log_format(args[0], FormatContext::request, a.diags)) {
      parsed = ast::SetPathAction{std::move(*fmt)};
    }
  } else {
    auto known = request ? vocabulary::http_request_actions() : vocabulary::http_response_actions();
    if (vocabulary::contains(known, action_name(action.text))) {
      a.error_at(action, fmt::format("'{} {}' is valid HAProxy but not supported by sluice", a.path,
                                     action.text));
    } else {
      a.error_at(action, fmt::format("unknown '{}' action '{}'", a.path, action.text),
                 did_you_mean(action.text, known));
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
  if (!a.split_condition(rest, cond)) return std::nullopt;
  if (rest.empty()) {
    a.error_missing(fmt::format("'{}' expects an action", a.path), "actions: accept, reject");
    return std::nullopt;
  }
  const Word& action = rest[0];
  if (action.text != "accept" && action.text != "reject") {
    if (vocabulary::contains(known, action_name(action.text)))
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

std::optional<ast::Payload> parse_tcp_content_impl(Args& a) {
  return parse_tcp_rule(a, ast::TcpRule::Layer::content, vocabulary::tcp_request_content_actions());
}
std::optional<ast::Payload> parse_tcp_connection_impl(Args& a) {
  return parse_tcp_rule(a, ast::TcpRule::Layer::connection,
                        vocabulary::tcp_request_connection_actions());
}

// `http-check expect [!] status|rstatus|string|rstring PATTERN`.
std::optional<ast::Payload> parse_http_check_expect_impl(Args& a) {
  std::size_t i = 0;
  ast::HttpCheckExpect e;
  if (i < a.words.size() &&
      is_one_of(a.words[i].text, {"min-recv", "comment", "ok-status", "error-status", "tout-status",
                                  "on-success", "on-error", "status-code"})) {
    a.error_at(a.words[i], fmt::format("'http-check expect {}' is valid HAProxy but not "
                                       "supported by sluice",
                                       a.words[i].text));
    return std::nullopt;
  }
  if (i < a.words.size() && a.words[i].text == "!") {
    e.negated = true;
    ++i;
  }
  if (i >= a.words.size()) {
    a.error_missing("'http-check expect' expects a match and a pattern",
                    "for example: http-check expect status 200");
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
  if (i + 2 != a.words.size()) {
    if (i + 2 > a.words.size())
      a.error_missing(fmt::format("'http-check expect {}' expects a pattern", kind.text),
                      "for example: http-check expect status 200");
    else
      a.error_at(a.words[i + 2],
                 fmt::format("unexpected '{}' after the pattern", a.words[i + 2].text));
    return std::nullopt;
  }
  e.kind = kind;
  e.pattern = a.words[i + 1];
  return e;
}

// `http-check send [meth M] [uri U] [ver V] [hdr NAME VALUE]... [body STRING]`.
std::optional<ast::Payload> parse_http_check_send_impl(Args& a) {
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

}  // namespace

std::optional<ast::Payload> parse_redirect(Args& a) {
  return parse_redirect_impl(a);
}
std::optional<ast::Payload> parse_tcp_content(Args& a) {
  return parse_tcp_content_impl(a);
}
std::optional<ast::Payload> parse_tcp_connection(Args& a) {
  return parse_tcp_connection_impl(a);
}
std::optional<ast::Payload> parse_http_check_expect(Args& a) {
  return parse_http_check_expect_impl(a);
}
std::optional<ast::Payload> parse_http_check_send(Args& a) {
  return parse_http_check_send_impl(a);
}
std::optional<ast::Payload> parse_http_request_rule(Args& a) {
  return parse_http_rule(a, true);
}
std::optional<ast::Payload> parse_http_response_rule(Args& a) {
  return parse_http_rule(a, false);
}

}  // namespace sluice::parser
