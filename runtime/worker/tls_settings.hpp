// A configuration's TLS lines as runtime/tls takes them: a bind's server side (with its
// crt-list lines' own options) and a `server … ssl` line's client side.
#pragma once

#include "runtime/config/config.hpp"
#include "runtime/tls/client_context.hpp"
#include "runtime/tls/server_contexts.hpp"

namespace sluice::worker {

tls::ServerSettings bind_tls_settings(const config::BindTls& bind, const config::Global& global);
tls::ClientSettings server_tls_settings(const config::ServerTls& server);

}  // namespace sluice::worker
