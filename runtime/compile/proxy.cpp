#include "runtime/compile/proxy.hpp"

#include "parser/sample.hpp"
#include "runtime/rules/fetch.hpp"
#include "runtime/rules/regex.hpp"

#include <fmt/format.h>

#include <arpa/inet.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

namespace sluice::compile {

namespace ast = parser::ast;
using parser::Location;

config::Millis millis(std::uint64_t us) {
  // HAProxy rounds sub-millisecond times up so that `1us` is not "no timeout".
  return config::Millis((us + 999) / 1000);
}

bool apply_tls_version_option(config::TlsVersionRange& range, std::string_view name,
                              std::string_view value) {
  auto version = [&] {
    if (value == "SSLv3") return config::TlsVersion::ssl3;
    if (value == "TLSv1.0") return config::TlsVersion::tls1_0;
    if (value == "TLSv1.1") return config::TlsVersion::tls1_1;
    if (value == "TLSv1.2") return config::TlsVersion::tls1_2;
    return config::TlsVersion::tls1_3;
  };
  if (name == "ssl-min-ver")
    range.min = version();
  else if (name == "ssl-max-ver")
    range.max = version();
  else if (name == "no-sslv3")
    range.no_sslv3 = true;
  else if (name == "no-tlsv10")
    range.no_tls1_0 = true;
  else if (name == "no-tlsv11")
    range.no_tls1_1 = true;
  else if (name == "no-tlsv12")
    range.no_tls1_2 = true;
  else if (name == "no-tlsv13")
    range.no_tls1_3 = true;
  else
    return false;
  return true;
}

ProxyBuilder::ProxyBuilder(ProxyBuildContext& ctx, config::Frontend* frontend,
                           config::Backend* backend, std::size_t frontend_index, bool read_files)
    : ctx_(ctx),
      frontend_(frontend),
      backend_(backend),
      frontend_index_(frontend_index),
      read_files_(read_files),
      acls_(ctx.diags, read_files),
      defaults_acls_(ctx.diags, read_files) {}

OriginTable::OriginTable(const parser::SourceSet& sources) {
  for (std::size_t i = 0; i < sources.size(); ++i)
    names_.push_back(
        std::make_shared<const std::string>(sources.file(static_cast<std::uint32_t>(i)).name()));
}

config::Origin OriginTable::operator()(Location where) const {
  return {names_[where.file], where.line};
}

std::optional<std::string> ProxyBuilder::read_file(const parser::Word& path) {
  if (!read_files_) return std::string();
  std::ifstream in(path.text, std::ios::binary);
  if (!in) {
    ctx_.diags.error(path.loc,
                     fmt::format("error opening file '{}': {}", path.text, std::strerror(errno)));
    return std::nullopt;
  }
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// HAProxy parses an errorfile as a raw HTTP/1 response at load time: a status line and a
// header block ending in an empty line. Checked here until the HTTP codec lands.
std::optional<std::string> ProxyBuilder::read_http_response(const parser::Word& path) {
  auto content = read_file(path);
  if (!content || !read_files_) return content;
  const bool status_line = content->starts_with("HTTP/1.0 ") || content->starts_with("HTTP/1.1 ");
  const bool header_end =
      content->find("\r\n\r\n") != std::string::npos || content->find("\n\n") != std::string::npos;
  if (!status_line || !header_end) {
    ctx_.diags.error(
        path.loc,
        fmt::format("'{}' is not an HTTP response: unable to parse its headers", path.text),
        "an errorfile holds a whole response: 'HTTP/1.0 503 Service "
        "Unavailable', headers, an empty line, then the body");
    return std::nullopt;
  }
  return content;
}

void ProxyBuilder::apply_errorfile(const ast::ErrorFile& errorfile) {
  auto response = read_http_response(errorfile.path);
  if (!response) return;
  config::ErrorFile e{static_cast<int>(errorfile.status), std::move(*response)};
  auto set = [&](std::vector<config::ErrorFile>& list) {
    std::erase_if(list, [&](const auto& x) { return x.status == e.status; });
    list.push_back(e);
  };
  if (frontend_) set(frontend_->errorfiles);
  if (backend_) set(backend_->errorfiles);
}

std::string ProxyBuilder::with_base(const std::string& base, const std::string& path) const {
  if (base.empty() || path.empty() || path[0] == '/') return path;
  return base + "/" + path;
}

void ProxyBuilder::apply(const ast::Statement& st, bool from_defaults) {
  scope_ = from_defaults ? &defaults_acls_ : &acls_;
  from_defaults_ = from_defaults;
  if (const auto* acl = std::get_if<ast::Acl>(&st.payload)) {
    scope_->declare(*acl);
    return;
  }
  if (const auto* errorfile = std::get_if<ast::ErrorFile>(&st.payload)) {
    apply_errorfile(*errorfile);
    return;
  }
  if (const auto* mode = std::get_if<ast::Mode>(&st.payload)) {
    const auto m = mode->mode == ast::ProxyMode::http ? config::Mode::http : config::Mode::tcp;
    if (frontend_) frontend_->mode = m;
    if (backend_) backend_->mode = m;
    return;
  }
  if (frontend_) apply_frontend(st);
  if (backend_) apply_backend(st);
}

void ProxyBuilder::apply_timeout(std::string_view which, std::uint64_t us) {
  const auto ms = millis(us);
  auto set = [&](config::Timeouts& t) {
    if (which == "client")
      t.client = ms;
    else if (which == "server")
      t.server = ms;
    else if (which == "connect")
      t.connect = ms;
    else if (which == "http-request")
      t.http_request = ms;
    else if (which == "http-keep-alive")
      t.http_keep_alive = ms;
    else if (which == "queue")
      t.queue = ms;
    else if (which == "tunnel")
      t.tunnel = ms;
    else if (which == "client-fin")
      t.client_fin = ms;
    else if (which == "server-fin")
      t.server_fin = ms;
    else if (which == "check")
      t.check = ms;
  };
  if (frontend_) set(frontend_->timeouts);
  if (backend_) set(backend_->timeouts);
}

std::optional<config::HttpRule> ProxyBuilder::http_rule(const ast::HttpRule& rule, Location where) {
  config::HttpRule out;
  out.origin = ctx_.origin(where);
  auto& a = out.action;
  bool ok = true;
  std::visit(
      [&](const auto& act) {
        using T = std::decay_t<decltype(act)>;
        if constexpr (std::is_same_v<T, ast::HeaderAction>) {
          using K = ast::HeaderAction::Kind;
          a.kind = act.kind == K::set   ? config::HttpAction::Kind::set_header
                   : act.kind == K::add ? config::HttpAction::Kind::add_header
                   : act.kind == K::del ? config::HttpAction::Kind::del_header
                                        : config::HttpAction::Kind::replace_header;
          a.name = act.name.text;
          if (act.regex) a.regex = act.regex->text;
          if (act.value) a.value = scope_->format(*act.value);
        } else if constexpr (std::is_same_v<T, ast::RedirectAction>) {
          using K = ast::RedirectAction::Kind;
          a.kind = act.kind == K::location ? config::HttpAction::Kind::redirect_location
                   : act.kind == K::prefix ? config::HttpAction::Kind::redirect_prefix
                                           : config::HttpAction::Kind::redirect_scheme;
          a.value = scope_->format(act.target);
          a.status = static_cast<int>(act.code);
          a.drop_query = act.drop_query;
          a.append_slash = act.append_slash;
        } else if constexpr (std::is_same_v<T, ast::DenyAction>) {
          a.kind = config::HttpAction::Kind::deny;
          a.status = static_cast<int>(act.status);
        } else if constexpr (std::is_same_v<T, ast::ReturnAction>) {
          a.kind = config::HttpAction::Kind::return_;
          a.status = static_cast<int>(act.status);
          if (act.content_type) a.content_type = act.content_type->text;
          using Body = ast::ReturnAction::Body;
          if (act.body && (act.body_kind == Body::string || act.body_kind == Body::lf_string)) {
            a.body = act.body->text;
          } else if (act.body) {
            auto content = act.body_kind == Body::errorfile ? read_http_response(*act.body)
                                                            : read_file(*act.body);
            if (!content)
              ok = false;
            else
              a.body = std::move(*content);
          }
          if (ok && act.body &&
              (act.body_kind == Body::lf_string || act.body_kind == Body::lf_file)) {
            // An lf-file's text is located at the file name: its errors point there.
            parser::Word text{a.body, act.body->loc, false};
            auto format = parser::parse_log_format(text, parser::FormatContext::any, ctx_.diags);
            if (!format)
              ok = false;
            else
              a.body_format = scope_->format(*format);
          }
          for (const auto& [name, value] : act.headers)
            a.headers.emplace_back(name.text, scope_->format(value));
        } else {
          a.kind = config::HttpAction::Kind::set_path;
          a.value = scope_->format(act.path);
        }
      },
      rule.action);
  if (rule.condition) {
    out.condition = scope_->condition(*rule.condition);
    ok = out.condition.has_value();
  }
  if (!ok) return std::nullopt;
  return out;
}

std::optional<config::TcpRule> ProxyBuilder::tcp_rule(const ast::TcpRule& rule, Location where) {
  config::TcpRule out;
  out.origin = ctx_.origin(where);
  out.content_layer = rule.layer == ast::TcpRule::Layer::content;
  out.accept = rule.accept;
  if (rule.condition) {
    out.condition = scope_->condition(*rule.condition);
    if (!out.condition) return std::nullopt;
  }
  return out;
}

void ProxyBuilder::apply_option(const ast::Option& option) {
  const auto& n = option.name.text;
  const bool on = !option.negated;
  if (n == "forwardfor") {
    std::optional<config::ForwardFor> ff;
    if (on) {
      ff.emplace();
      for (std::size_t i = 0; i < option.args.size(); ++i) {
        const auto& w = option.args[i].text;
        if (w == "if-none")
          ff->if_none = true;
        else if (w == "except")
          ff->except = option.args[++i].text;
        else if (w == "header")
          ff->header = option.args[++i].text;
      }
    }
    if (frontend_) frontend_->forwardfor = ff;
    if (backend_) backend_->forwardfor = ff;
    return;
  }
  if (n == "httpclose" || n == "http-server-close" || n == "http-keep-alive") {
    using M = config::HttpConnectionMode;
    const M named = n == "httpclose"           ? M::close
                    : n == "http-server-close" ? M::server_close
                                               : M::keep_alive;
    // `no option X` only undoes X (HAProxy clears that mode and falls back to keep-alive).
    auto set = [&](std::optional<M>& mode) {
      if (on)
        mode = named;
      else if (mode == named)
        mode.reset();
    };
    if (frontend_) set(frontend_->connection_mode);
    if (backend_) set(backend_->connection_mode);
    return;
  }
  if (frontend_) {
    // The last of httplog and tcplog wins, as in HAProxy.
    if (n == "httplog") {
      frontend_->httplog = on;
      if (on) frontend_->tcplog = false;
    } else if (n == "tcplog") {
      frontend_->tcplog = on;
      if (on) frontend_->httplog = false;
    } else if (n == "dontlognull") {
      frontend_->dontlognull = on;
    }
  }
  if (backend_) {
    if (n == "redispatch")
      backend_->redispatch = on;
    else if (n == "allbackups")
      backend_->allbackups = on;
    else if (n == "ssl-hello-chk")
      backend_->check_type = config::CheckType::ssl_hello;
    else if (n == "tcp-check")
      backend_->check_type = config::CheckType::tcp_check;
    else if (n == "log-health-checks")
      backend_->log_health_checks = on;
    else if (n == "httpchk") {
      backend_->check_type = config::CheckType::http;
      auto& check = backend_->http_check;
      const auto& args = option.args;
      if (args.size() == 1) {
        check.uri = args[0].text;
      } else if (args.size() >= 2) {
        check.method = args[0].text;
        check.uri = args[1].text;
        if (args.size() == 3) check.version = args[2].text;
      }
    }
  }
}

void ProxyBuilder::apply_frontend(const ast::Statement& st) {
  const Location where = st.loc;
  std::visit(
      [&](const auto& p) {
        using T = std::decay_t<decltype(p)>;
        if constexpr (std::is_same_v<T, ast::Bind>) {
          frontend_->binds.push_back(compile_bind(p, where));
        } else if constexpr (std::is_same_v<T, ast::BackendRef>) {
          if (st.keyword == "default_backend") {
            ctx_.backend_refs.push_back({p.backend, frontend_index_, std::nullopt});
          } else {
            config::Frontend::UseBackend use;
            use.origin = ctx_.origin(where);
            if (p.condition) {
              use.condition = scope_->condition(*p.condition);
              if (!use.condition) return;
            }
            frontend_->use_backends.push_back(std::move(use));
            ctx_.backend_refs.push_back(
                {p.backend, frontend_index_, frontend_->use_backends.size() - 1});
          }
        } else if constexpr (std::is_same_v<T, ast::Duration>) {
          if (st.keyword.starts_with("timeout ")) {
            if (!backend_) apply_timeout(st.keyword.substr(8), p.us);
          } else if (st.keyword == "tcp-request inspect-delay") {
            frontend_->inspect_delay = millis(p.us);
          }
        } else if constexpr (std::is_same_v<T, ast::Integer>) {
          if (st.keyword == "maxconn") frontend_->maxconn = static_cast<int>(p.value);
        } else if constexpr (std::is_same_v<T, ast::HttpRule>) {
          // In a listen, request rules run once, on the frontend half.
          if (auto rule = http_rule(p, where)) {
            if (st.keyword == "redirect")
              frontend_->redirects.push_back(std::move(*rule));
            else if (st.keyword == "http-request")
              frontend_->http_request.push_back(std::move(*rule));
            else
              frontend_->http_response.push_back(std::move(*rule));
          }
        } else if constexpr (std::is_same_v<T, ast::TcpRule>) {
          if (auto rule = tcp_rule(p, where)) frontend_->tcp_request.push_back(std::move(*rule));
        } else if constexpr (std::is_same_v<T, ast::Option>) {
          apply_option(p);
        } else if constexpr (std::is_same_v<T, ast::Log>) {
          apply_log(p, frontend_->logs);
        } else if constexpr (std::is_same_v<T, ast::Text>) {
          if (st.keyword == "log-tag") frontend_->log_tag = p.value.text;
        }
      },
      st.payload);
}

config::LogTarget log_target_of(const ast::Log& p) {
  config::LogTarget t;
  t.global = p.global;
  t.target = p.target.text;
  if (p.format) t.format = p.format->text;
  if (p.facility) t.facility = p.facility->text;
  if (p.level) t.level = p.level->text;
  if (p.min_level) t.min_level = p.min_level->text;
  if (p.max_length) t.max_length = static_cast<int>(*p.max_length);
  return t;
}

// `log …` in a proxy: a target (or `global`), or `no log` clearing what defaults gave.
void ProxyBuilder::apply_log(const ast::Log& p, std::vector<config::LogTarget>& logs) {
  if (p.disable) {
    logs.clear();
    return;
  }
  if (p.global || !p.target.text.empty()) logs.push_back(log_target_of(p));
}

void ProxyBuilder::apply_backend(const ast::Statement& st) {
  const Location where = st.loc;
  std::visit(
      [&](const auto& p) {
        using T = std::decay_t<decltype(p)>;
        if constexpr (std::is_same_v<T, ast::Server>) {
          backend_->servers.push_back(compile_server(p, where));
        } else if constexpr (std::is_same_v<T, ast::DefaultServer>) {
          default_server_.insert(default_server_.end(), p.settings.begin(), p.settings.end());
        } else if constexpr (std::is_same_v<T, ast::Balance>) {
          const auto& algo = p.algorithm.text;
          using B = config::Balance;
          backend_->balance_args.clear();
          for (const auto& w : p.args)
            backend_->balance_args.push_back(w.text);
          if (algo == "roundrobin")
            backend_->balance = B::roundrobin;
          else if (algo == "static-rr")
            backend_->balance = B::static_rr;
          else if (algo == "leastconn")
            backend_->balance = B::leastconn;
          else if (algo == "first")
            backend_->balance = B::first;
          else if (algo == "source")
            backend_->balance = B::source;
          else if (algo == "uri")
            backend_->balance = B::uri;
          else if (algo.starts_with("random")) {
            backend_->balance = B::random;
            // `random(N)`: N draws, kept as the first argument (the parser checked it).
            if (algo.size() > 8)
              backend_->balance_args.insert(backend_->balance_args.begin(),
                                            algo.substr(7, algo.size() - 8));
          } else {
            backend_->balance = B::hdr;
            backend_->balance_args.insert(backend_->balance_args.begin(),
                                          algo.substr(4, algo.size() - 5));
          }
        } else if constexpr (std::is_same_v<T, ast::Duration>) {
          if (st.keyword.starts_with("timeout "))
            apply_timeout(st.keyword.substr(8), p.us);
          else if (st.keyword == "tcp-request inspect-delay" && !frontend_)
            backend_->inspect_delay = {millis(p.us), ctx_.origin(where)};  // a listen's: frontend
        } else if constexpr (std::is_same_v<T, ast::Integer>) {
          if (st.keyword == "retries") backend_->retries = static_cast<int>(p.value);
        } else if constexpr (std::is_same_v<T, ast::Text>) {
          if (st.keyword == "http-reuse") backend_->http_reuse = p.value.text;
          if (st.keyword == "log-tag") backend_->log_tag = p.value.text;
        } else if constexpr (std::is_same_v<T, ast::Words>) {
          if (st.keyword == "hash-type") {
            backend_->hash_type.clear();
            for (const auto& w : p.words)
              backend_->hash_type.push_back(w.text);
          }
        } else if constexpr (std::is_same_v<T, ast::Log>) {
          apply_log(p, backend_->logs);
        } else if constexpr (std::is_same_v<T, ast::Option>) {
          if (!frontend_) apply_option(p);
        } else if constexpr (std::is_same_v<T, ast::HttpCheckExpect>) {
          if (!http_check_rule_at_) http_check_rule_at_ = where;
          backend_->http_check.expect =
              config::HttpCheck::Expect{p.negated, p.kind.text, p.pattern.text};
        } else if constexpr (std::is_same_v<T, ast::HttpCheckSend>) {
          if (!http_check_rule_at_) http_check_rule_at_ = where;
          auto& check = backend_->http_check;
          if (p.method) check.method = p.method->text;
          if (p.uri) check.uri = p.uri->text;
          if (p.version) check.version = p.version->text;
          if (p.body) check.body = p.body->text;
          for (const auto& [n, v] : p.headers)
            check.headers.emplace_back(n.text, v.text);
        } else if constexpr (std::is_same_v<T, ast::TcpCheck>) {
          apply_tcp_check(p, where);
        } else if constexpr (std::is_same_v<T, ast::HttpRule>) {
          // In a listen the frontend half owns the rules. In a backend, a redirect is a
          // request rule like `http-request redirect`.
          if (frontend_) return;
          if (auto rule = http_rule(p, where)) {
            if (st.keyword == "http-response")
              backend_->http_response.push_back(std::move(*rule));
            else
              backend_->http_request.push_back(std::move(*rule));
          }
        } else if constexpr (std::is_same_v<T, ast::TcpRule>) {
          if (!frontend_)
            if (auto rule = tcp_rule(p, where)) backend_->tcp_request.push_back(std::move(*rule));
        }
      },
      st.payload);
}

namespace {

config::CheckStatus check_status(std::string_view name, config::CheckStatus fallback) {
  using S = config::CheckStatus;
  static constexpr std::pair<std::string_view, S> names[] = {
      {"L4OK", S::l4_ok},        {"L4TOUT", S::l4_timeout}, {"L4CON", S::l4_connection},
      {"L6OK", S::l6_ok},        {"L6TOUT", S::l6_timeout}, {"L6RSP", S::l6_response},
      {"L7TOUT", S::l7_timeout}, {"L7RSP", S::l7_response}, {"L7OK", S::l7_ok},
      {"L7STS", S::l7_status}};
  for (const auto& [n, status] : names)
    if (n == name) return status;
  return fallback;
}

}  // namespace

void ProxyBuilder::apply_tcp_check(const ast::TcpCheck& rule, Location where) {
  auto& rules = backend_->tcp_checks;
  // A proxy with tcp-check rules of its own does not inherit those of its defaults.
  if (!from_defaults_ && !own_tcp_checks_) {
    rules.clear();
    own_tcp_checks_ = true;
    tcp_check_rule_at_.reset();
  }
  if (!tcp_check_rule_at_) tcp_check_rule_at_ = where;
  using Kind = ast::TcpCheck::Kind;
  config::TcpCheckRule r;
  r.kind = static_cast<config::TcpCheckRule::Kind>(rule.kind);
  r.comment = rule.comment;
  switch (rule.kind) {
    case Kind::comment:
      break;
    case Kind::connect: {
      const auto first = std::find_if(rules.begin(), rules.end(), [](const auto& r) {
        return r.kind != config::TcpCheckRule::Kind::comment;
      });
      if (first != rules.end() && first->kind != config::TcpCheckRule::Kind::connect) {
        ctx_.diags.error(where, "a tcp-check script with a 'connect' step must start with one",
                         "only 'tcp-check comment' may come before the first 'tcp-check connect'");
        return;
      }
      r.server_defaults = rule.server_defaults;
      r.port = rule.port;
      if (rule.addr) {
        in6_addr any;
        if (inet_pton(AF_INET, rule.addr->text.c_str(), &any) != 1 &&
            inet_pton(AF_INET6, rule.addr->text.c_str(), &any) != 1) {
          ctx_.diags.error(rule.addr->loc,
                           fmt::format("'tcp-check connect addr' expects an IP address, not '{}'",
                                       rule.addr->text));
          return;
        }
        r.addr = rule.addr->text;
      }
      r.ssl = rule.ssl;
      if (rule.sni) r.sni = rule.sni->text;
      r.linger = rule.linger;
      break;
    }
    case Kind::send:
      r.data = rule.data;
      break;
    case Kind::expect: {
      using M = config::TcpCheckRule::Match;
      r.negated = rule.negated;
      r.match = rule.match == "string"    ? M::string
                : rule.match == "rstring" ? M::rstring
                : rule.match == "binary"  ? M::binary
                                          : M::rbinary;
      r.pattern = rule.pattern;
      if (r.match == M::rstring || r.match == M::rbinary) {
        try {
          rules::Regex regex(r.pattern, false);
        } catch (const rules::CompileError& e) {
          ctx_.diags.error(rule.pattern_word.loc, e.what());
          return;
        }
      }
      r.min_recv = rule.min_recv;
      r.ok = check_status(rule.ok_status, r.ok);
      r.error = check_status(rule.error_status, r.error);
      r.timeout = check_status(rule.timeout_status, r.timeout);
      break;
    }
  }
  rules.push_back(std::move(r));
}

void ProxyBuilder::finish() {
  if (frontend_ && frontend_->mode == config::Mode::tcp)
    for (const auto& b : h2_binds_)
      ctx_.diags.error(b.where,
                       fmt::format("frontend '{}': MUX protocol 'h2' is not usable for "
                                   "'bind {}' in mode tcp",
                                   frontend_->name, b.address),
                       "'proto h2' needs 'mode http'");
  if (!backend_) return;
  // Checks that open TLS themselves (`tcp-check connect ssl`) verify the server as its
  // traffic would.
  const bool script_tls = backend_->check_type == config::CheckType::tcp_check &&
                          std::any_of(backend_->tcp_checks.begin(), backend_->tcp_checks.end(),
                                      [](const config::TcpCheckRule& r) { return r.ssl; });
  for (std::size_t i = 0; script_tls && i < backend_->servers.size(); ++i) {
    const auto& s = backend_->servers[i];
    if (s.check && !s.tls.enabled && !s.check_ssl) check_server_verify(s, server_at_[i]);
  }
  // HAProxy ignores the rules of a check type the backend does not use, and says so.
  if (tcp_check_rule_at_ && backend_->check_type != config::CheckType::tcp_check)
    ctx_.diags.warning(*tcp_check_rule_at_,
                       fmt::format("backend '{}' uses tcp-check rules without 'option "
                                   "tcp-check', so the rules are ignored",
                                   backend_->name));
  if (http_check_rule_at_ && backend_->check_type != config::CheckType::http)
    ctx_.diags.warning(*http_check_rule_at_,
                       fmt::format("backend '{}' uses http-check rules without 'option "
                                   "httpchk', so the rules are ignored",
                                   backend_->name));
}

}  // namespace sluice::compile
