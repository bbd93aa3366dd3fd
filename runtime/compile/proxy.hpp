// Applies a proxy section's statements (after its defaults') to the runtime Frontend and
// Backend it stands for. A listen section is both; each half takes what concerns it.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "parser/ast.hpp"
#include "parser/diagnostic.hpp"
#include "runtime/compile/rules.hpp"
#include "runtime/config/config.hpp"

namespace sluice::compile {

// A `default_backend` or `use_backend` target, resolved once every backend is known.
struct BackendReference {
  parser::Word name;
  std::size_t frontend = 0;
  std::optional<std::size_t> use_backend;  // index in use_backends; nullopt: default_backend
};

// A certificate or CA file to check once the whole config is read (after crt-base).
struct FileCheck {
  enum class Kind {
    bind_crt,
    crt_list,
    ca_file,
    crl_file,
    client_crt,
    ciphers,
    ciphersuites,
    curves,
    ticket_keys,
    inherited_fd  // `fd@N`: N must be an open socket, as `haproxy -c` checks
  } kind;
  // Or, for ciphers/ciphersuites/curves, the value OpenSSL must accept; for inherited_fd, N.
  std::string path;
  parser::Location where;
};

// A host name on a bind or server line: HAProxy resolves it at load time (and in -c).
struct HostLookup {
  std::string host;
  std::string what;  // "server 'be/s1'" or "bind 'www.example:80'"
  parser::Location where;
};

// An `ssl` bind: it needs at least one certificate once its crt and crt-list are read.
struct SslBindCheck {
  std::string address;
  parser::Location where;
  std::vector<std::string> certificates, crt_lists;
};

// Origins ("file:line") of runtime objects; each file's name is stored once and shared.
class OriginTable {
 public:
  explicit OriginTable(const parser::SourceSet& sources);
  config::Origin operator()(parser::Location where) const;

 private:
  std::vector<std::shared_ptr<const std::string>> names_;
};

struct ProxyBuildContext {
  const parser::SourceSet& sources;
  const OriginTable& origin;
  parser::Diagnostics& diags;
  const config::Global& global;
  std::string crt_base, ca_base;
  std::vector<BackendReference>& backend_refs;
  std::vector<FileCheck>& file_checks;
  std::vector<SslBindCheck>& ssl_binds;
  std::vector<HostLookup>& host_lookups;
};

// A parsed duration (microseconds) as the config keeps it, rounded up to milliseconds as
// HAProxy does (`1us` is not "no timeout").
config::Millis millis(std::uint64_t us);

// Applies one version option (`ssl-min-ver TLSv1.2`, `no-tlsv11`, ...); false if `name` is
// not one. Shared by bind lines and ssl-default-*-options.
// A `log` line's target as config keeps it (global: stands for the global section's).
config::LogTarget log_target_of(const parser::ast::Log& log);

bool apply_tls_version_option(config::TlsVersionRange& range, std::string_view name,
                              std::string_view value);

class ProxyBuilder {
 public:
  ProxyBuilder(ProxyBuildContext& ctx, config::Frontend* frontend, config::Backend* backend,
               std::size_t frontend_index, bool read_files);

  void apply(const parser::ast::Statement& st, bool from_defaults);
  // After the last statement: what only the whole section can tell.
  void finish();

 private:
  void apply_frontend(const parser::ast::Statement& st);
  void apply_log(const parser::ast::Log& log, std::vector<config::LogTarget>& logs);
  void apply_backend(const parser::ast::Statement& st);
  void apply_option(const parser::ast::Option& option);
  void apply_timeout(std::string_view which, std::uint64_t us);
  config::Bind compile_bind(const parser::ast::Bind& bind, parser::Location where);
  config::Server compile_server(const parser::ast::Server& server, parser::Location where);
  void apply_server_settings(config::Server& s, const std::vector<parser::ast::Setting>& settings);
  // A server spoken to over TLS needs a CA file, or `verify none`: else an error there.
  void check_server_verify(const config::Server& s, parser::Location where);
  std::optional<config::HttpRule> http_rule(const parser::ast::HttpRule& rule,
                                            parser::Location where);
  std::optional<config::TcpRule> tcp_rule(const parser::ast::TcpRule& rule, parser::Location where);
  std::string with_base(const std::string& base, const std::string& path) const;
  // Reads a file named by a statement; on failure reports it there and returns nullopt.
  std::optional<std::string> read_file(const parser::Word& path);
  std::optional<std::string> read_http_response(const parser::Word& path);
  void apply_errorfile(const parser::ast::ErrorFile& errorfile);
  void apply_tcp_check(const parser::ast::TcpCheck& rule, parser::Location where);

  ProxyBuildContext& ctx_;
  config::Frontend* frontend_;
  config::Backend* backend_;
  std::size_t frontend_index_;
  bool read_files_;
  AclScope acls_;
  AclScope defaults_acls_;  // ACLs of a defaults section are visible to its rules only
  AclScope* scope_ = &acls_;
  std::vector<parser::ast::Setting> default_server_;
  std::vector<parser::Location> server_at_;  // by server: its name on its line
  struct H2Bind {
    parser::Location where;
    std::string address;
  };
  std::vector<H2Bind> h2_binds_;  // `proto h2` binds, checked against the final mode
  bool from_defaults_ = false;    // the statement being applied is the defaults section's
  bool own_tcp_checks_ = false;   // the section has tcp-check rules of its own
  // The first check rule of each kind, for the warning when the check type ignores them.
  std::optional<parser::Location> tcp_check_rule_at_, http_check_rule_at_;
};

}  // namespace sluice::compile
