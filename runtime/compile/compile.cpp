#include "runtime/compile/compile.hpp"

#include <fmt/format.h>
#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <unordered_map>

#include "parser/suggest.hpp"
#include "runtime/compile/build_facts.hpp"
#include "runtime/compile/listener.hpp"
#include "runtime/compile/proxy.hpp"
#include "runtime/compile/tls_files.hpp"
#include "runtime/io/socket.hpp"
#include "runtime/tls/ticket_keys.hpp"

namespace sluice::compile {

namespace ast = parser::ast;
using parser::Location;

namespace {

// `fd@N`: what `haproxy -c` already refuses, a descriptor not open or not a socket, with
// the system's words ("Bad file descriptor", "Socket operation on non-socket").
std::vector<FileProblem> check_inherited_fd(const std::string& number) {
  std::string error;
  if (io::inherited_socket_type(std::atoi(number.c_str()), error)) return {};
  return {{error, "start sluice with that descriptor open, as a supervisor or harness passes it"}};
}

// `log-send-hostname` without a name sends the system's, read once at load as HAProxy does.
std::string host_name() {
  std::string name = io::host_name();
  return name.empty() ? "localhost" : name;
}

config::TlsVersionRange versions_of(const std::vector<parser::Word>& words) {
  config::TlsVersionRange range;
  for (std::size_t i = 0; i < words.size(); ++i) {
    const bool takes_value = words[i].text == "ssl-min-ver" || words[i].text == "ssl-max-ver";
    std::string_view value;
    if (takes_value && i + 1 < words.size()) value = words[i + 1].text;
    apply_tls_version_option(range, words[i].text, value);
    if (takes_value) ++i;
  }
  return range;
}

class Compiler {
 public:
  Compiler(CompileResult& result, bool check_files)
      : result_(result), diags_(result.diags), check_files_(check_files), origin_(result.sources) {}

  void run(const ast::Document& doc) {
    auto cfg = std::make_shared<config::Config>();
    cfg_ = cfg.get();
    for (const auto& section : doc.sections)
      if (section.kind == ast::SectionKind::global) apply_global(section);
    declare_proxies(doc);
    build_proxies(doc);
    resolve_backend_refs();
    warn_missing_settings();
    warn_not_enforced(doc);
    if (check_files_) check_files();
    if (check_files_ && !diags_.has_errors()) resolve_host_names();
    result_.has_listener = std::any_of(cfg->frontends.begin(), cfg->frontends.end(),
                                       [](const auto& f) { return !f.binds.empty(); });
    if (!diags_.has_errors()) result_.config = std::move(cfg);
  }

 private:
  void apply_global(const ast::Section& section) {
    auto& g = cfg_->global;
    for (const auto& st : section.statements) {
      const auto& k = st.keyword;
      std::visit(
          [&](const auto& p) {
            using T = std::decay_t<decltype(p)>;
            if constexpr (std::is_same_v<T, ast::Flag>) {
              if (k == "daemon") g.daemon = true;
              if (k == "master-worker") g.master_worker = true;
              if (k == "noreuseport") g.noreuseport = true;
              if (k == "zero-warning") g.zero_warning = true;
            } else if constexpr (std::is_same_v<T, ast::Integer>) {
              const int v = static_cast<int>(p.value);
              if (k == "nbthread")
                g.nbthread = v;
              else if (k == "spread-checks")
                g.spread_checks = v;
              else if (k == "maxconn")
                g.maxconn = v;
              else if (k == "tune.bufsize")
                g.bufsize = v;
              else if (k == "tune.maxrewrite")
                g.maxrewrite = v;
              else if (k == "tune.http.maxhdr")
                g.max_headers = v;
              else if (k == "tune.ssl.cachesize")
                g.ssl_cachesize = v;
              else if (k == "tune.h2.initial-window-size")
                g.h2_initial_window_size = v;
              else if (k == "tune.h2.max-concurrent-streams")
                g.h2_max_concurrent_streams = v;
            } else if constexpr (std::is_same_v<T, ast::Duration>) {
              const config::Millis ms((p.us + 999) / 1000);
              if (k == "hard-stop-after")
                g.hard_stop_after = ms;
              else if (k == "tune.ssl.lifetime")
                g.ssl_lifetime = ms;
              else if (k == "stats timeout")
                g.stats_timeout = ms;
            } else if constexpr (std::is_same_v<T, ast::Text>) {
              const auto& v = p.value.text;
              if (k == "pidfile")
                g.pidfile = v;
              else if (k == "log-tag")
                g.log_tag = v;
              else if (k == "ca-base")
                ca_base_ = v;
              else if (k == "crt-base")
                crt_base_ = v;
              else if (k == "ssl-server-verify")
                g.server_verify = v == "required";
              else if (k == "ssl-dh-param-file") {
                g.dh_param_file = v;
                dh_param_where_ = p.value.loc;
              } else {
                apply_global_tls_setting(k, v, p.value.loc);
              }
            } else if constexpr (std::is_same_v<T, ast::Words>) {
              if (k == "log-send-hostname") {
                g.log_hostname = p.words.empty() ? host_name() : p.words[0].text;
              } else if (k == "ssl-default-bind-options") {
                g.bind_versions = versions_of(p.words);
                for (const auto& w : p.words)
                  if (w.text == "no-tls-tickets") g.bind_no_tls_tickets = true;
              } else if (k == "ssl-default-server-options") {
                g.server_versions = versions_of(p.words);
                for (const auto& w : p.words)
                  if (w.text == "no-tls-tickets") g.server_no_tls_tickets = true;
              }
            } else if constexpr (std::is_same_v<T, ast::Log>) {
              if (p.global) {
                diags_.error(st.loc, "'log global' is only meaningful in a proxy section");
                return;
              }
              g.logs.push_back(log_target_of(p));
            } else if constexpr (std::is_same_v<T, ast::Bind>) {
              if (auto socket = compile_stats_socket(p, st.loc, origin_, diags_)) {  // stats socket
                for (const auto& e : socket->bind.endpoints)
                  if (e.family == config::Family::inherited_fd)
                    file_checks_.push_back(
                        {FileCheck::Kind::inherited_fd, e.host, p.address_text.loc});
                g.stats_sockets.push_back(std::move(*socket));
              }
            }
          },
          st.payload);
    }
  }

  // ssl-default-{bind,server}-{ciphers,ciphersuites,curves}: stored, and handed to OpenSSL
  // in check_files() as HAProxy does when it builds the contexts.
  void apply_global_tls_setting(std::string_view keyword, const std::string& value,
                                Location where) {
    auto& g = cfg_->global;
    struct Target {
      std::string_view keyword;
      std::string config::Global::*field;
      FileCheck::Kind kind;
    };
    static const Target targets[] = {
        {"ssl-default-bind-ciphers", &config::Global::bind_ciphers, FileCheck::Kind::ciphers},
        {"ssl-default-bind-ciphersuites", &config::Global::bind_ciphersuites,
         FileCheck::Kind::ciphersuites},
        {"ssl-default-bind-curves", &config::Global::bind_curves, FileCheck::Kind::curves},
        {"ssl-default-server-ciphers", &config::Global::server_ciphers, FileCheck::Kind::ciphers},
        {"ssl-default-server-ciphersuites", &config::Global::server_ciphersuites,
         FileCheck::Kind::ciphersuites},
    };
    for (const auto& t : targets) {
      if (t.keyword != keyword) continue;
      g.*t.field = value;
      file_checks_.push_back({t.kind, value, where});
    }
  }

  // Frontend and backend names first, so that references may point forward.
  void declare_proxies(const ast::Document& doc) {
    for (const auto& section : doc.sections) {
      if (section.kind == ast::SectionKind::global || !section.name) continue;
      const auto& name = *section.name;
      auto check_unique = [&](std::map<std::string, Location>& seen, const char* what) {
        auto [it, fresh] = seen.emplace(name.text, name.loc);
        if (!fresh) {
          diags_.error(name.loc,
                       fmt::format("{} '{}' has the same name as another {} declared at {}:{}",
                                   ast::section_word(section.kind), name.text, what,
                                   result_.sources.file(it->second.file).name(), it->second.line),
                       "proxy names must be unique per kind");
        }
      };
      switch (section.kind) {
        case ast::SectionKind::defaults:
          check_unique(defaults_names_, "defaults section");
          break;
        case ast::SectionKind::frontend:
          check_unique(frontend_names_, "frontend");
          break;
        case ast::SectionKind::backend:
          check_unique(backend_names_, "backend");
          break;
        case ast::SectionKind::listen:
          check_unique(frontend_names_, "frontend");
          check_unique(backend_names_, "backend");
          break;
        default:
          break;
      }
    }
  }

  const ast::Section* defaults_for(const ast::Section& section, const ast::Section* last) {
    if (!section.from) return last;
    for (const auto* d : named_defaults_)
      if (d->name && d->name->text == section.from->text) return d;
    diags_.error(section.from->loc,
                 fmt::format("defaults section '{}' not found", section.from->text),
                 "a 'from' must name a defaults section declared above");
    return nullptr;
  }

  void build_proxies(const ast::Document& doc) {
    ProxyBuildContext ctx{result_.sources, origin_,      diags_,        cfg_->global,
                          crt_base_,       ca_base_,     backend_refs_, file_checks_,
                          ssl_binds_,      host_lookups_};
    const ast::Section* last_defaults = nullptr;
    for (const auto& section : doc.sections) {
      if (section.kind == ast::SectionKind::global) continue;
      // `defaults B` alone starts afresh; only `defaults B from A` inherits.
      const bool inherits = section.kind != ast::SectionKind::defaults || section.from;
      const ast::Section* defaults = inherits ? defaults_for(section, last_defaults) : nullptr;
      if (defaults) check_defaults_use(section, *defaults);
      if (section.kind == ast::SectionKind::defaults) {
        // A defaults section may itself inherit (`defaults B from A`): flatten once here.
        auto& use = defaults_[&section];
        if (defaults) use.statements = defaults_[defaults].statements;
        for (const auto& st : section.statements) {
          use.statements.push_back(&st);
          use.has_rules = use.has_rules || is_rule(st);
        }
        if (section.name) named_defaults_.push_back(&section);
        last_defaults = &section;
        continue;
      }
      build_proxy(ctx, section, defaults ? &defaults_[defaults].statements : nullptr);
    }
  }

  static bool is_rule(const ast::Statement& st) {
    return std::holds_alternative<ast::HttpRule>(st.payload) ||
           std::holds_alternative<ast::TcpRule>(st.payload);
  }

  // HAProxy's rules for sharing a defaults section: rules in it may serve frontends or
  // backends but not both, nor a listen or another defaults; naming it in `from` while
  // other proxies use it implicitly is reported (a warning: HAProxy goes on).
  void check_defaults_use(const ast::Section& user, const ast::Section& defaults) {
    auto& use = defaults_[&defaults];
    const bool by_name = user.from.has_value();
    const auto declared =
        fmt::format("{}:{}", result_.sources.file(defaults.loc.file).name(), defaults.loc.line);
    if ((by_name && use.used_implicitly) || (!by_name && use.used_by_name))
      diags_.warning(user.loc,
                     fmt::format("defaults section '{}' (declared at {}) is referenced by name "
                                 "and also used implicitly",
                                 defaults.name ? defaults.name->text : "", declared),
                     "use 'from NAME' everywhere, or add a last defaults section that no "
                     "'from' names");
    (by_name ? use.used_by_name : use.used_implicitly) = true;
    if (!use.has_rules) return;
    const auto kind = user.kind;
    const char* conflict = nullptr;
    if (kind == ast::SectionKind::listen)
      conflict = "a listen section cannot inherit from a defaults section defining TCP/HTTP rules";
    else if (kind == ast::SectionKind::defaults)
      conflict =
          "a defaults section cannot inherit from a defaults section defining TCP/HTTP rules";
    else if ((kind == ast::SectionKind::frontend && use.used_by_backend) ||
             (kind == ast::SectionKind::backend && use.used_by_frontend))
      conflict =
          "frontends and backends cannot inherit from the same defaults section if it "
          "defines TCP/HTTP rules";
    (kind == ast::SectionKind::frontend ? use.used_by_frontend : use.used_by_backend) = true;
    if (conflict)
      diags_.error(user.loc, fmt::format("{} (defaults section at {})", conflict, declared),
                   kind == ast::SectionKind::frontend || kind == ast::SectionKind::backend
                       ? "give frontends and backends separate defaults sections, or move the "
                         "rules into the proxies"
                       : "move the rules out of that defaults section, into the proxies");
  }

  void build_proxy(ProxyBuildContext& ctx, const ast::Section& section,
                   const std::vector<const ast::Statement*>* defaults) {
    const auto kind = section.kind;
    const bool has_frontend = kind != ast::SectionKind::backend;
    const bool has_backend = kind != ast::SectionKind::frontend;
    const std::string name = section.name ? section.name->text : std::string();
    std::optional<std::size_t> frontend_index, backend_index;
    if (has_frontend) {
      frontend_index = cfg_->frontends.size();
      auto& f = cfg_->frontends.emplace_back();
      f.name = name;
      f.origin = origin_(section.loc);
    }
    if (has_backend) {
      backend_index = cfg_->backends.size();
      auto& b = cfg_->backends.emplace_back();
      b.name = name;
      b.origin = origin_(section.loc);
      section_of_backend_.push_back(&section);
    }
    // References into the vectors stay valid: nothing else is added until this proxy is done.
    config::Frontend* f = frontend_index ? &cfg_->frontends[*frontend_index] : nullptr;
    config::Backend* b = backend_index ? &cfg_->backends[*backend_index] : nullptr;
    ProxyBuilder builder(ctx, f, b, frontend_index.value_or(0), check_files_);
    if (defaults)
      for (const auto* st : *defaults)
        builder.apply(*st, true);
    for (const auto& st : section.statements)
      builder.apply(st, false);
    builder.finish();
    if (f && b) {
      // A listen section is its own default backend.
      f->default_backend = *backend_index;
      listen_frontends_.push_back(*frontend_index);
    }
    if (f) frontend_sections_.push_back(&section);
  }

  void resolve_backend_refs() {
    std::unordered_map<std::string_view, std::size_t> by_name;
    by_name.reserve(cfg_->backends.size());
    for (std::size_t i = 0; i < cfg_->backends.size(); ++i)
      by_name.emplace(cfg_->backends[i].name, i);
    for (const auto& ref : backend_refs_) {
      auto& f = cfg_->frontends[ref.frontend];
      const bool is_listen = std::find(listen_frontends_.begin(), listen_frontends_.end(),
                                       ref.frontend) != listen_frontends_.end();
      if (ref.name.text.find("%[") != std::string::npos) {
        diags_.error(ref.name.loc,
                     "dynamic backend names ('%[...]') are valid HAProxy but not "
                     "supported by sluice");
        continue;
      }
      auto found = by_name.find(ref.name.text);
      if (found == by_name.end()) {
        std::vector<std::string_view> names;
        for (const auto& b : cfg_->backends)
          names.push_back(b.name);
        diags_.error(ref.name.loc,
                     fmt::format("{} '{}' refers to backend '{}', which does not exist",
                                 is_listen ? "listen" : "frontend", f.name, ref.name.text),
                     parser::did_you_mean(ref.name.text, names,
                                          "declare it with 'backend NAME' or 'listen NAME'"));
        continue;
      }
      const auto index = found->second;
      const auto* it = &cfg_->backends[index];
      if (f.mode == config::Mode::http && it->mode == config::Mode::tcp) {
        diags_.error(ref.name.loc,
                     fmt::format("http {} '{}' cannot use tcp backend '{}' ({}:{})",
                                 is_listen ? "proxy" : "frontend", f.name, it->name,
                                 *it->origin.file, it->origin.line),
                     "set the same 'mode' on both, e.g. 'mode http' in the backend");
        continue;
      }
      if (ref.use_backend)
        f.use_backends[*ref.use_backend].backend = index;
      else
        f.default_backend = index;
    }
  }

  // HAProxy ignores HTTP rules in a tcp-mode proxy, and says so.
  void warn_needs_http(const ast::Section& section, std::string_view what, bool present) {
    if (!present) return;
    diags_.warning(
        section.loc,
        fmt::format("'{}' ignored for {} '{}' as it requires HTTP mode", what,
                    ast::section_word(section.kind), section.name ? section.name->text : ""),
        "add 'mode http' to this section or to its defaults");
  }

  void warn_missing_settings() {
    for (std::size_t i = 0; i < cfg_->frontends.size(); ++i) {
      const auto& f = cfg_->frontends[i];
      const auto* section = frontend_sections_[i];
      if (f.binds.empty() && section->kind == ast::SectionKind::frontend &&
          section->rejected_statements == 0)
        diags_.warning(section->loc, fmt::format("frontend '{}' has no 'bind' directive", f.name),
                       "declare it as a backend if this was intended");
      if (f.mode == config::Mode::tcp) {
        warn_needs_http(*section, "http-request", !f.http_request.empty());
        warn_needs_http(*section, "http-response", !f.http_response.empty());
        warn_needs_http(*section, "redirect", !f.redirects.empty());
        warn_needs_http(*section, "option forwardfor", f.forwardfor.has_value());
      }
    }
    for (std::size_t i = 0; i < cfg_->backends.size(); ++i) {
      auto& b = cfg_->backends[i];
      const bool layer7 = b.balance == config::Balance::uri || b.balance == config::Balance::hdr;
      if (b.mode == config::Mode::tcp && layer7) {
        // HAProxy's fallback, and its warning.
        diags_.warning(section_of_backend_[i]->loc,
                       fmt::format("layer 7 hash not possible for backend '{}' (needs 'mode "
                                   "http'): falling back to round robin",
                                   b.name));
        b.balance = config::Balance::roundrobin;
        b.balance_args.clear();
      }
      if (b.mode != config::Mode::tcp || section_of_backend_[i]->kind == ast::SectionKind::listen)
        continue;
      warn_needs_http(*section_of_backend_[i], "http-request", !b.http_request.empty());
      warn_needs_http(*section_of_backend_[i], "http-response", !b.http_response.empty());
    }
    // HAProxy's "missing timeouts" warning: client on the frontend side, connect and
    // server on the backend side, whatever section supplied them.
    std::map<const ast::Section*, bool> missing;
    for (std::size_t i = 0; i < cfg_->frontends.size(); ++i)
      if (!cfg_->frontends[i].timeouts.client) missing[frontend_sections_[i]] = true;
    for (std::size_t i = 0; i < cfg_->backends.size(); ++i) {
      const auto& t = cfg_->backends[i].timeouts;
      if (!t.connect || !t.server) missing[section_of_backend_[i]] = true;
    }
    for (const auto& [section, _] : missing) {
      const char* what =
          section->kind == ast::SectionKind::listen ? "proxy" : ast::section_word(section->kind);
      diags_.warning(section->loc,
                     fmt::format("missing timeouts for {} '{}'", what,
                                 section->name ? section->name->text : ""),
                     "set 'timeout client', 'timeout connect' and 'timeout server' to non-zero "
                     "values, usually in 'defaults'");
    }
  }

  void warn_not_enforced(const ast::Document& doc) {
    std::map<std::string_view, std::pair<Location, std::size_t>> seen;
    std::vector<std::string_view> order;
    for (const auto& section : doc.sections) {
      for (const auto& st : section.statements) {
        if (st.support != ast::Support::parsed_only) continue;
        auto [it, fresh] = seen.emplace(st.keyword, std::make_pair(st.loc, 0));
        if (fresh) order.push_back(st.keyword);
        ++it->second.second;
      }
    }
    for (const auto& keyword : order) {
      const auto& [where, count] = seen[keyword];
      diags_.warning(
          where, count > 1 ? fmt::format("'{}' parsed, not yet enforced ({} uses)", keyword, count)
                           : fmt::format("'{}' parsed, not yet enforced", keyword));
    }
  }

  void check_files() {
    std::set<std::string> unreadable;  // paths already reported: no second error for them
    const FileCheck* current = nullptr;
    auto report = [&](Location where, const std::vector<FileProblem>& problems) {
      for (const auto& p : problems)
        diags_.error(where, p.message, p.hint);
      if (!problems.empty() && current) unreadable.insert(current->path);
    };
    auto warn = [&](Location where, const std::vector<FileProblem>& problems) {
      for (const auto& p : problems)
        diags_.warning(where, p.message, p.hint);
    };
    // A file named by default-server or by several lines is read and reported once.
    std::set<std::pair<FileCheck::Kind, std::string>> checked;
    for (const auto& check : file_checks_) {
      if (!checked.emplace(check.kind, check.path).second) continue;
      current = &check;
      switch (check.kind) {
        case FileCheck::Kind::bind_crt:
          report(check.where, check_bind_certificate(check.path));
          break;
        case FileCheck::Kind::crt_list:
          report(check.where, check_crt_list(check.path, crt_base_, ca_base_));
          break;
        case FileCheck::Kind::ca_file:
          report(check.where, check_ca_file(check.path));
          warn(check.where, lint_ca_file(check.path));
          break;
        case FileCheck::Kind::ticket_keys: {
          tls::TicketKeys keys;
          std::string error;
          if (!tls::read_ticket_keys(check.path, keys, error)) report(check.where, {{error, {}}});
          break;
        }
        case FileCheck::Kind::crl_file:
          report(check.where, check_crl_file(check.path));
          warn(check.where, lint_crl_file(check.path));
          break;
        case FileCheck::Kind::client_crt:
          report(check.where, check_client_certificate(check.path));
          break;
        case FileCheck::Kind::ciphers:
          report(check.where, check_tls_setting("ciphers", check.path));
          break;
        case FileCheck::Kind::ciphersuites:
          report(check.where, check_tls_setting("ciphersuites", check.path));
          break;
        case FileCheck::Kind::curves:
          report(check.where, check_tls_setting("curves", check.path));
          break;
        case FileCheck::Kind::inherited_fd:
          report(check.where, check_inherited_fd(check.path));
          break;
      }
    }
    current = nullptr;
    // An empty crt directory or a comments-only crt-list fails only when nothing else
    // gives the bind a certificate, as in HAProxy.
    for (const auto& bind : ssl_binds_) {
      std::size_t total = 0;
      bool reported = false;
      for (const auto& crt : bind.certificates) {
        total += count_bind_certificates(crt);
        reported = reported || unreadable.contains(crt);
      }
      for (const auto& list : bind.crt_lists) {
        total += count_crt_list_certificates(list);
        reported = reported || unreadable.contains(list);
      }
      if (total == 0 && !reported)
        diags_.error(bind.where,
                     fmt::format("no SSL certificate specified for bind '{}'", bind.address),
                     "every 'crt' directory and 'crt-list' of this bind is empty");
    }
    if (!cfg_->global.dh_param_file.empty())
      report(dh_param_where_, check_dh_param_file(cfg_->global.dh_param_file));
  }

  // HAProxy resolves bind and server host names at start-up (and in -c) with the system
  // resolver; each name is asked once.
  void resolve_host_names() {
    std::map<std::string, int> answers;
    for (const auto& lookup : host_lookups_) {
      auto [it, fresh] = answers.emplace(lookup.host, 0);
      if (fresh) {
        addrinfo hints{};
        hints.ai_socktype = SOCK_STREAM;
        addrinfo* found = nullptr;
        it->second = getaddrinfo(lookup.host.c_str(), nullptr, &hints, &found);
        if (found) freeaddrinfo(found);
      }
      if (it->second != 0)
        diags_.error(lookup.where, fmt::format("{}: could not resolve address '{}': {}",
                                               lookup.what, lookup.host, gai_strerror(it->second)));
    }
  }

  CompileResult& result_;
  parser::Diagnostics& diags_;
  bool check_files_;
  OriginTable origin_;
  config::Config* cfg_ = nullptr;
  std::string crt_base_, ca_base_;
  Location dh_param_where_;
  std::map<std::string, Location> defaults_names_, frontend_names_, backend_names_;
  std::vector<const ast::Section*> named_defaults_;
  struct DefaultsUse {
    std::vector<const ast::Statement*> statements;  // flattened through `from`
    bool has_rules = false;
    bool used_by_name = false, used_implicitly = false;
    bool used_by_frontend = false, used_by_backend = false;
  };
  std::map<const ast::Section*, DefaultsUse> defaults_;
  std::vector<BackendReference> backend_refs_;
  std::vector<FileCheck> file_checks_;
  std::vector<SslBindCheck> ssl_binds_;
  std::vector<HostLookup> host_lookups_;
  std::vector<std::size_t> listen_frontends_;
  std::vector<const ast::Section*> frontend_sections_;
  std::vector<const ast::Section*> section_of_backend_;
};

// Conditions ask about this binary unless a caller (a test) says otherwise.
parser::ParseOptions with_build_facts(parser::ParseOptions options) {
  if (options.build.version.empty()) options.build = build_facts();
  return options;
}

void compile_document(CompileResult& result, const ast::Document& doc, bool check_files) {
  Compiler(result, check_files).run(doc);
}

}  // namespace

CompileResult compile_files(const std::vector<std::string>& paths,
                            const parser::ParseOptions& given) {
  const parser::ParseOptions options = with_build_facts(given);
  CompileResult result;
  ast::Document doc;
  std::vector<std::string> files;
  for (const auto& path : paths) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) {
      std::vector<std::string> found;
      for (const auto& entry : std::filesystem::directory_iterator(path, ec))
        if (entry.path().extension() == ".cfg" && !entry.is_directory())
          found.push_back(entry.path().string());
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    } else {
      files.push_back(path);
    }
  }
  for (const auto& path : files) {
    std::string error;
    auto index = result.sources.load(path, error);
    if (!index) {
      result.diags.error({}, fmt::format("cannot open configuration file '{}': {}", path, error));
      continue;
    }
    parser::parse_file(result.sources, *index, options, doc, result.diags);
  }
  if (files.empty())
    result.diags.error({}, "no configuration file given", "use -f FILE or -f DIRECTORY");
  compile_document(result, doc, true);
  return result;
}

CompileResult compile_text(std::string name, std::string text, const parser::ParseOptions& options,
                           bool check_files) {
  CompileResult result;
  ast::Document doc;
  const auto index = result.sources.add(std::move(name), std::move(text));
  parser::parse_file(result.sources, index, with_build_facts(options), doc, result.diags);
  compile_document(result, doc, check_files);
  return result;
}

}  // namespace sluice::compile
