// ProxyBuilder's bind and server lines: addresses, TLS settings, server options.
#include <fmt/format.h>

#include "parser/sample.hpp"
#include "runtime/compile/listener.hpp"
#include "runtime/compile/proxy.hpp"
#include "runtime/compile/tls_files.hpp"

namespace sluice::compile {

namespace ast = parser::ast;
using parser::Location;

namespace {

const std::string& arg0(const ast::Setting& s) {
  return s.value->text;
}

config::Family family_of(parser::AddressFamily family) {
  switch (family) {
    case parser::AddressFamily::unspecified:
      return config::Family::unspecified;
    case parser::AddressFamily::ipv4:
      return config::Family::ipv4;
    case parser::AddressFamily::ipv6:
      return config::Family::ipv6;
    case parser::AddressFamily::hostname:
      return config::Family::hostname;
    case parser::AddressFamily::unix_path:
      return config::Family::unix_path;
    case parser::AddressFamily::abstract:
      return config::Family::abstract;
    case parser::AddressFamily::fd:
      return config::Family::inherited_fd;
  }
  return config::Family::unspecified;
}

}  // namespace

config::Endpoint endpoint_of(const parser::Address& a) {
  config::Endpoint e;
  e.family = family_of(a.family);
  e.resolve_as = family_of(a.resolve_as);
  e.host = a.host;
  e.has_port = a.has_port;
  e.port_offset = a.port_offset;
  e.port = a.port;
  e.last_port = a.last_port;
  return e;
}

namespace {

config::Verify verify_of(std::string_view v) {
  if (v == "none") return config::Verify::none;
  if (v == "optional") return config::Verify::optional;
  return config::Verify::required;
}

}  // namespace

config::Bind ProxyBuilder::compile_bind(const ast::Bind& bind, Location where) {
  config::Bind out;
  out.origin = ctx_.origin(where);
  for (const auto& a : bind.addresses) {
    out.endpoints.push_back(endpoint_of(a));
    if (a.family == parser::AddressFamily::hostname)
      ctx_.host_lookups.push_back(
          {a.host, fmt::format("bind '{}'", bind.address_text.text), bind.address_text.loc});
    if (a.family == parser::AddressFamily::fd)
      ctx_.file_checks.push_back({FileCheck::Kind::inherited_fd, a.host, bind.address_text.loc});
  }
  // ssl-default-bind-options are every bind's starting point; its own settings add to them.
  config::BindTls tls;
  tls.versions = ctx_.global.bind_versions;
  tls.no_tls_tickets = ctx_.global.bind_no_tls_tickets;
  bool ssl = false;
  for (const auto& s : bind.settings) {
    const auto& n = s.name.text;
    if (n == "ssl")
      ssl = true;
    else if (n == "crt") {
      tls.certificates.push_back(with_base(ctx_.crt_base, arg0(s)));
      tls.entries.emplace_back().path = tls.certificates.back();
      ctx_.file_checks.push_back(
          {FileCheck::Kind::bind_crt, tls.certificates.back(), s.value->loc});
    } else if (n == "crt-list") {
      // crt-base applies to the certificates a crt-list names, not to the list itself.
      tls.crt_lists.push_back(arg0(s));
      for (auto& entry : read_crt_list(arg0(s), ctx_.crt_base, ctx_.ca_base))
        tls.entries.push_back(std::move(entry));
      ctx_.file_checks.push_back({FileCheck::Kind::crt_list, tls.crt_lists.back(), s.value->loc});
    } else if (n == "ca-file") {
      tls.ca_file = with_base(ctx_.ca_base, arg0(s));
      ctx_.file_checks.push_back({FileCheck::Kind::ca_file, tls.ca_file, s.value->loc});
    } else if (n == "crl-file") {
      tls.crl_file = with_base(ctx_.ca_base, arg0(s));
      ctx_.file_checks.push_back({FileCheck::Kind::crl_file, tls.crl_file, s.value->loc});
    } else if (n == "verify")
      tls.verify = verify_of(arg0(s));
    else if (n == "alpn")
      tls.alpn = arg0(s);
    else if (n == "ciphers" || n == "ciphersuites" || n == "curves") {
      const auto kind = n == "ciphers"        ? FileCheck::Kind::ciphers
                        : n == "ciphersuites" ? FileCheck::Kind::ciphersuites
                                              : FileCheck::Kind::curves;
      (n == "ciphers"        ? tls.ciphers
       : n == "ciphersuites" ? tls.ciphersuites
                             : tls.curves) = arg0(s);
      ctx_.file_checks.push_back({kind, arg0(s), s.value->loc});
    } else if (apply_tls_version_option(tls.versions, n, s.value ? s.value->text : ""))
      continue;
    else if (n == "strict-sni")
      tls.strict_sni = true;
    else if (n == "tls-ticket-keys") {
      tls.ticket_keys_file = arg0(s);
      ctx_.file_checks.push_back({FileCheck::Kind::ticket_keys, arg0(s), s.value->loc});
    } else if (n == "no-tls-tickets")
      tls.no_tls_tickets = true;
    else if (n == "accept-proxy")
      out.accept_proxy = true;
    else if (n == "proto") {
      out.http2 = arg0(s) == "h2";
      if (out.http2) h2_binds_.push_back({where, bind.address_text.text});
    } else if (n == "name")
      out.name = arg0(s);
    else if (n == "v4v6")
      out.v4v6 = true;
    else if (n == "v6only")
      out.v6only = true;
    else
      apply_unix_socket_setting(out, s, ctx_.diags);
  }
  if (ssl) {
    const bool verifies =
        tls.verify == config::Verify::optional || tls.verify == config::Verify::required;
    if (verifies && tls.ca_file.empty())
      ctx_.diags.error(where,
                       fmt::format("verify is enabled but no CA file specified for bind '{}'",
                                   bind.address_text.text),
                       "add 'ca-file /path/to/clients-ca.pem' to the bind line");
    if (tls.certificates.empty() && tls.crt_lists.empty()) {
      ctx_.diags.error(
          where, fmt::format("no SSL certificate specified for bind '{}'", bind.address_text.text),
          "add 'crt /path/to/cert.pem' (certificate and key in one PEM file)");
    } else {
      ctx_.ssl_binds.push_back({bind.address_text.text, where, tls.certificates, tls.crt_lists});
    }
    if (tls.ciphers.empty()) tls.ciphers = ctx_.global.bind_ciphers;
    if (tls.ciphersuites.empty()) tls.ciphersuites = ctx_.global.bind_ciphersuites;
    if (tls.curves.empty()) tls.curves = ctx_.global.bind_curves;
    out.tls = std::move(tls);
  }
  return out;
}

void ProxyBuilder::apply_server_settings(config::Server& s,
                                         const std::vector<ast::Setting>& settings) {
  for (const auto& setting : settings) {
    const auto& n = setting.name.text;
    const bool on = !setting.negated;
    auto time = [&] {
      return millis(std::get<std::uint64_t>(parser::parse_time_us(arg0(setting))));
    };
    auto integer = [&] { return static_cast<int>(std::stoll(arg0(setting))); };
    if (n == "check")
      s.check = on;
    else if (n == "backup")
      s.backup = on;
    else if (n == "disabled")
      s.disabled = true;
    else if (n == "enabled")
      s.disabled = false;
    else if (n == "ssl")
      s.tls.enabled = on;
    else if (n == "check-ssl")
      s.check_ssl = on;
    else if (n == "send-proxy")
      s.send_proxy = on ? 1 : 0;
    else if (n == "send-proxy-v2")
      s.send_proxy = on ? 2 : 0;
    else if (n == "inter")
      s.inter = time();
    else if (n == "fastinter")
      s.fastinter = time();
    else if (n == "downinter")
      s.downinter = time();
    else if (n == "rise")
      s.rise = integer();
    else if (n == "fall")
      s.fall = integer();
    else if (n == "weight")
      s.weight = integer();
    else if (n == "maxconn")
      s.maxconn = integer();
    else if (n == "port")
      s.check_port = integer();
    else if (n == "addr")
      s.check_addr = arg0(setting);
    else if (n == "verify")
      s.tls.verify = verify_of(arg0(setting));
    else if (n == "verifyhost")
      s.tls.verifyhost = arg0(setting);
    else if (n == "sni") {
      // The parser checked the expression already: this only builds it.
      parser::Diagnostics quiet;
      if (auto sample = parser::parse_sample(arg0(setting), setting.value->loc, quiet))
        s.tls.sni = compile_sample(*sample);
    } else if (n == "ssl-reuse")
      s.tls.reuse = on;
    else if (n == "tls-tickets")
      s.tls.tickets = on;
    else if (apply_tls_version_option(s.tls.versions, n, setting.value ? setting.value->text : ""))
      continue;
    else if (n == "ciphers" || n == "ciphersuites") {
      (n == "ciphers" ? s.tls.ciphers : s.tls.ciphersuites) = arg0(setting);
      ctx_.file_checks.push_back(
          {n == "ciphers" ? FileCheck::Kind::ciphers : FileCheck::Kind::ciphersuites, arg0(setting),
           setting.value->loc});
    } else if (n == "crl-file") {
      s.tls.crl_file = with_base(ctx_.ca_base, arg0(setting));
      ctx_.file_checks.push_back({FileCheck::Kind::crl_file, s.tls.crl_file, setting.value->loc});
    } else if (n == "alpn")
      s.tls.alpn = arg0(setting);
    else if (n == "check-sni")
      s.check_sni = arg0(setting);
    else if (n == "ca-file") {
      s.tls.ca_file = with_base(ctx_.ca_base, arg0(setting));
      ctx_.file_checks.push_back({FileCheck::Kind::ca_file, s.tls.ca_file, setting.value->loc});
    } else if (n == "crt") {
      s.tls.crt = with_base(ctx_.crt_base, arg0(setting));
      ctx_.file_checks.push_back({FileCheck::Kind::client_crt, s.tls.crt, setting.value->loc});
    }
  }
}

config::Server ProxyBuilder::compile_server(const ast::Server& server, Location where) {
  config::Server s;
  s.origin = ctx_.origin(where);
  s.name = server.name.text;
  s.endpoint = endpoint_of(server.address);
  if (server.address.family == parser::AddressFamily::hostname)
    ctx_.host_lookups.push_back({server.address.host,
                                 fmt::format("server '{}/{}'", backend_->name, s.name),
                                 server.address_text.loc});
  // ssl-default-server-* are every server's starting point; its own settings override.
  s.tls.versions = ctx_.global.server_versions;
  s.tls.ciphers = ctx_.global.server_ciphers;
  s.tls.ciphersuites = ctx_.global.server_ciphersuites;
  s.tls.tickets = !ctx_.global.server_no_tls_tickets;
  apply_server_settings(s, default_server_);
  apply_server_settings(s, server.settings);
  if (s.check && s.check_port == 0 && (!s.endpoint.has_port || s.endpoint.port_offset))
    ctx_.diags.error(server.name.loc,
                     fmt::format("backend '{}': server '{}' has neither service port nor check "
                                 "port",
                                 backend_->name, s.name),
                     "give the server a port, or 'port N' for its checks");
  if (s.tls.verify == config::Verify::unset)
    s.tls.verify = ctx_.global.server_verify ? config::Verify::unset : config::Verify::none;
  if (s.tls.enabled || s.check_ssl) check_server_verify(s, server.name.loc);
  server_at_.push_back(server.name.loc);
  for (const auto& other : backend_->servers) {
    if (other.name == s.name) {
      ctx_.diags.error(server.name.loc,
                       fmt::format("backend '{}' already has a server named '{}' (line {})",
                                   backend_->name, s.name, other.origin.line),
                       "server names must be distinct within a backend");
      break;
    }
  }
  return s;
}

void ProxyBuilder::check_server_verify(const config::Server& s, Location where) {
  // HAProxy verifies servers by default (ssl-server-verify required): TLS to a server
  // needs a CA to verify against, or an explicit `verify none`.
  if (s.tls.verify == config::Verify::none || !s.tls.ca_file.empty()) return;
  ctx_.diags.error(
      where,
      fmt::format("server '{}/{}': verify is {} but no CA file specified", backend_->name, s.name,
                  s.tls.verify == config::Verify::required ? "required" : "enabled by default"),
      "add 'ca-file /path/to/ca.pem' (or '@system-ca'), or 'verify none' if you "
      "trust the network to the server");
}

}  // namespace sluice::compile
