// What binds and the global `stats socket` share: an address item as the runtime keeps it,
// the UNIX socket file settings (mode, user, group), and the compiled `stats socket` line.
#pragma once

#include <optional>
#include <string>

#include "parser/ast.hpp"
#include "parser/diagnostic.hpp"
#include "runtime/compile/proxy.hpp"
#include "runtime/config/config.hpp"

namespace sluice::compile {

config::Endpoint endpoint_of(const parser::Address& address);

// "unix@/run/x.sock", "ipv4@127.0.0.1:9999", "fd@3": HAProxy's form of a listening address.
std::string listener_address_text(const config::Endpoint& endpoint);

// `mode`, `uid`, `gid`, `user`, `group`: applied to `bind` (errors reported located); false
// when `setting` is none of them.
bool apply_unix_socket_setting(config::Bind& bind, const parser::ast::Setting& setting,
                               parser::Diagnostics& diags);

// A global `stats socket ADDRESS [settings]` line; nullopt after reporting why not.
std::optional<config::StatsSocket> compile_stats_socket(const parser::ast::Bind& line,
                                                        parser::Location where,
                                                        const OriginTable& origin,
                                                        parser::Diagnostics& diags);

}  // namespace sluice::compile
