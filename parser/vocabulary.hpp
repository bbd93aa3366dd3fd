// HAProxy 2.6's vocabulary, as names only: every keyword, option, bind/server setting, fetch,
// converter and action HAProxy accepts, whether or not sluice implements it. Lets a diagnostic
// tell "valid HAProxy but not supported by sluice" from "unknown keyword", and feeds
// "did you mean". Facts taken from HAProxy's documentation (configuration.txt), no code.
#pragma once

#include <span>
#include <string_view>

namespace sluice::parser::vocabulary {

// Section keywords other than global/defaults/frontend/backend/listen:
// userlist, peers, resolvers, mailers, program, http-errors, ring, cache, ...
std::span<const std::string_view> other_sections();

// Keywords of the `global` section (first word, e.g. "tune.bufsize", "stats", "lua-load").
std::span<const std::string_view> global_keywords();

// First words of proxy keywords (defaults/frontend/backend/listen), e.g. "acl", "option",
// "timeout", "http-request", "stick-table".
std::span<const std::string_view> proxy_keywords();

// Names after `option` ("httpchk", "forwardfor", "splice-auto", ...).
std::span<const std::string_view> proxy_options();

// Names after `timeout` ("client", "server", "tarpit", ...).
std::span<const std::string_view> proxy_timeouts();

// Settings on a `bind` line ("ssl", "crt", "alpn", "accept-proxy", "tfo", ...).
std::span<const std::string_view> bind_settings();

// Settings on a `server`/`default-server` line ("check", "inter", "cookie", "resolvers", ...).
std::span<const std::string_view> server_settings();

// Sample fetches, including the ACL-only derived forms ("hdr_beg", "path_end", ...).
std::span<const std::string_view> fetches();

// Sample converters ("lower", "base64", "map", ...).
std::span<const std::string_view> converters();

// Actions of `http-request`, `http-response`, `tcp-request content`,
// `tcp-request connection`.
std::span<const std::string_view> http_request_actions();
std::span<const std::string_view> http_response_actions();
std::span<const std::string_view> tcp_request_content_actions();
std::span<const std::string_view> tcp_request_connection_actions();

// Membership in one of the lists above.
bool contains(std::span<const std::string_view> list, std::string_view name);

}  // namespace sluice::parser::vocabulary
