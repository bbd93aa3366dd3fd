#include "runtime/compile/listener.hpp"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <fmt/format.h>

#include <vector>

namespace sluice::compile {

namespace ast = parser::ast;

std::string listener_address_text(const config::Endpoint& e) {
  switch (e.family) {
    case config::Family::unix_path:
      return "unix@" + e.host;
    case config::Family::abstract:
      return "abns@" + e.host;
    case config::Family::inherited_fd:
      return "fd@" + e.host;
    case config::Family::ipv6:
      return fmt::format("ipv6@{}:{}", e.host, e.port);
    case config::Family::unspecified:
      return fmt::format("ipv4@0.0.0.0:{}", e.port);
    case config::Family::ipv4:
    case config::Family::hostname:
      break;
  }
  return fmt::format("{}@{}:{}", e.resolve_as == config::Family::ipv6 ? "ipv6" : "ipv4", e.host,
                     e.port);
}

namespace {

// getpwnam/getgrnam's id, or nullopt when there is no such name.
std::optional<int> user_id(const std::string& name, bool group) {
  std::vector<char> buffer(16384);
  if (group) {
    struct group g {};
    struct group* found = nullptr;
    if (getgrnam_r(name.c_str(), &g, buffer.data(), buffer.size(), &found) != 0 || !found)
      return std::nullopt;
    return static_cast<int>(found->gr_gid);
  }
  struct passwd p {};
  struct passwd* found = nullptr;
  if (getpwnam_r(name.c_str(), &p, buffer.data(), buffer.size(), &found) != 0 || !found)
    return std::nullopt;
  return static_cast<int>(found->pw_uid);
}

}  // namespace

bool apply_unix_socket_setting(config::Bind& bind, const ast::Setting& s,
                               parser::Diagnostics& diags) {
  const auto& n = s.name.text;
  if (n == "mode") {
    const std::string& text = s.value->text;
    // Octal, as chmod takes it (HAProxy reads it with strtol base 8).
    unsigned value = 0;
    bool ok = !text.empty() && text.size() <= 6;
    for (char c : text) {
      ok = ok && c >= '0' && c <= '7';
      value = value * 8 + static_cast<unsigned>(c - '0');
    }
    if (!ok || value > 07777) {
      diags.error(s.value->loc, fmt::format("bind setting 'mode': '{}' is not an octal mode", text),
                  "write the permissions as chmod takes them, as in 600 or 0660");
      return true;
    }
    bind.unix_mode = static_cast<int>(value);
    return true;
  }
  if (n == "uid" || n == "gid") {
    (n == "uid" ? bind.uid : bind.gid) = static_cast<int>(std::stoll(s.value->text));
    return true;
  }
  if (n == "user" || n == "group") {
    const auto id = user_id(s.value->text, n == "group");
    if (!id) {
      diags.error(s.value->loc,
                  fmt::format("bind setting '{}': unknown {} '{}'", n, n, s.value->text));
      return true;
    }
    (n == "user" ? bind.uid : bind.gid) = *id;
    return true;
  }
  return false;
}

std::optional<config::StatsSocket> compile_stats_socket(const ast::Bind& line,
                                                        parser::Location where,
                                                        const OriginTable& origin,
                                                        parser::Diagnostics& diags) {
  config::StatsSocket out;
  out.bind.origin = origin(where);
  bool ok = true;
  for (const auto& a : line.addresses) {
    if (a.family == parser::AddressFamily::hostname) {
      diags.error(line.address_text.loc,
                  fmt::format("stats socket '{}': write an IP address or a UNIX socket path",
                              line.address_text.text),
                  "for example: stats socket /run/haproxy/admin.sock mode 600 level admin");
      return std::nullopt;
    }
    out.bind.endpoints.push_back(endpoint_of(a));
    out.addresses.push_back(listener_address_text(out.bind.endpoints.back()));
  }
  for (const auto& s : line.settings) {
    const auto& n = s.name.text;
    if (apply_unix_socket_setting(out.bind, s, diags)) continue;
    if (n == "level") {
      const auto& v = s.value->text;
      out.level = v == "admin"      ? config::StatsSocket::Level::admin
                  : v == "operator" ? config::StatsSocket::Level::operator_
                                    : config::StatsSocket::Level::user;
    } else if (n == "expose-fd") {
      out.expose_fd_listeners = true;
    } else if (n == "name") {
      out.bind.name = s.value->text;
    } else if (n == "accept-proxy") {
      out.bind.accept_proxy = true;
    } else if (n == "v4v6") {
      out.bind.v4v6 = true;
    } else if (n == "v6only") {
      out.bind.v6only = true;
    } else if (n == "severity-output") {
      // Only decorates error answers, which sluice's commands do not give yet.
    } else {
      diags.error(s.name.loc,
                  fmt::format("stats socket setting '{}' is valid HAProxy but not supported by "
                              "sluice",
                              n),
                  "a stats socket takes: level, mode, user, group, uid, gid, expose-fd, name, "
                  "accept-proxy, v4v6, v6only");
      ok = false;
    }
  }
  if (!ok) return std::nullopt;
  return out;
}

}  // namespace sluice::compile
