#include "parser/vocabulary.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <functional>
#include <initializer_list>
#include <span>
#include <string_view>

namespace vocabulary = sluice::parser::vocabulary;

namespace {

using List = std::span<const std::string_view>;

struct NamedList {
  const char* name;
  List list;
};

NamedList all_lists[] = {
    {"other_sections", vocabulary::other_sections()},
    {"global_keywords", vocabulary::global_keywords()},
    {"proxy_keywords", vocabulary::proxy_keywords()},
    {"proxy_options", vocabulary::proxy_options()},
    {"proxy_timeouts", vocabulary::proxy_timeouts()},
    {"bind_settings", vocabulary::bind_settings()},
    {"server_settings", vocabulary::server_settings()},
    {"fetches", vocabulary::fetches()},
    {"converters", vocabulary::converters()},
    {"http_request_actions", vocabulary::http_request_actions()},
    {"http_response_actions", vocabulary::http_response_actions()},
    {"tcp_request_content_actions", vocabulary::tcp_request_content_actions()},
    {"tcp_request_connection_actions", vocabulary::tcp_request_connection_actions()},
};

void check_members(List list, std::initializer_list<std::string_view> names) {
  for (const std::string_view name : names) {
    INFO("expected member: ", name);
    CHECK(vocabulary::contains(list, name));
  }
}

void check_non_members(List list, std::initializer_list<std::string_view> names) {
  for (const std::string_view name : names) {
    INFO("unexpected member: ", name);
    CHECK_FALSE(vocabulary::contains(list, name));
  }
}

}  // namespace

TEST_CASE("vocabulary: every list is non-empty, sorted and duplicate-free") {
  for (const NamedList& named : all_lists) {
    INFO("list: ", named.name);
    CHECK_FALSE(named.list.empty());
    // Strictly increasing neighbours: sorted for binary search, and no duplicates.
    CHECK(std::adjacent_find(named.list.begin(), named.list.end(),
                             std::greater_equal<std::string_view>()) == named.list.end());
    for (const std::string_view name : named.list) {
      INFO("name: ", name);
      CHECK_FALSE(name.empty());
      CHECK(name.find_first_of(" \t()<>") == std::string_view::npos);
    }
  }
}

TEST_CASE("vocabulary: list sizes stay in the expected range") {
  // Guards against a table being truncated by accident.
  CHECK(vocabulary::other_sections().size() >= 10);
  CHECK(vocabulary::global_keywords().size() >= 160);
  CHECK(vocabulary::proxy_keywords().size() >= 75);
  CHECK(vocabulary::proxy_options().size() >= 50);
  CHECK(vocabulary::proxy_timeouts().size() == 11);
  CHECK(vocabulary::bind_settings().size() >= 60);
  CHECK(vocabulary::server_settings().size() >= 95);
  CHECK(vocabulary::fetches().size() >= 500);
  CHECK(vocabulary::converters().size() >= 130);
}

TEST_CASE("vocabulary: other sections") {
  const List list = vocabulary::other_sections();
  check_members(list, {"userlist", "peers", "resolvers", "mailers", "program", "http-errors",
                       "ring", "cache", "fcgi-app", "log-forward"});
  check_non_members(list, {"global", "defaults", "frontend", "backend", "listen", "usrlist"});
}

TEST_CASE("vocabulary: global keywords") {
  const List list = vocabulary::global_keywords();
  check_members(list, {"daemon", "maxconn", "nbthread", "stats", "master-worker", "presetenv",
                       "tune.bufsize", "tune.ssl.default-dh-param", "ssl-default-bind-ciphers",
                       "ssl-default-bind-options", "lua-load", "zero-warning", "quiet",
                       "51degrees-data-file", "thread-groups", "tune.vars.check-max-size"});
  check_non_members(list, {"chek", "tiemout", "timeout", "option", "nbproc", "debug"});
}

TEST_CASE("vocabulary: proxy keywords") {
  const List list = vocabulary::proxy_keywords();
  check_members(list, {"acl",
                       "option",
                       "timeout",
                       "http-request",
                       "http-response",
                       "http-after-response",
                       "stick-table",
                       "capture",
                       "stats",
                       "tcp-check",
                       "email-alert",
                       "use_backend",
                       "default_backend",
                       "use-server",
                       "bind",
                       "server",
                       "default-server",
                       "server-template",
                       "errorloc302",
                       "hash-balance-factor",
                       "dynamic-cookie-key",
                       "max-session-srv-conns"});
  check_non_members(list, {"chek", "tiemout", "no", "default", "clitimeout", "reqadd",
                           "option httpchk", "use-backend"});
}

TEST_CASE("vocabulary: proxy options") {
  const List list = vocabulary::proxy_options();
  check_members(list, {"httpchk", "forwardfor", "splice-auto", "httplog", "tcplog", "httpslog",
                       "redispatch", "http-server-close", "abortonclose", "ssl-hello-chk",
                       "idle-close-on-response", "http-restrict-req-hdr-names"});
  check_non_members(list, {"chek", "tiemout", "forceclose", "http-tunnel", "check"});
}

TEST_CASE("vocabulary: proxy timeouts") {
  const List list = vocabulary::proxy_timeouts();
  check_members(list, {"client", "server", "connect", "tarpit", "tunnel", "check", "queue",
                       "http-request", "http-keep-alive", "client-fin", "server-fin"});
  check_non_members(list, {"chek", "tiemout", "timeout", "mail", "clitimeout"});
}

TEST_CASE("vocabulary: bind settings") {
  const List list = vocabulary::bind_settings();
  check_members(list, {"accept-netscaler-cip", "accept-proxy", "allow-0rtt", "alpn", "backlog",
                       "ca-file", "crt", "crt-list", "ssl", "tfo", "v4v6", "v6only", "verify",
                       "no-tlsv13", "strict-sni", "thread", "shards"});
  check_non_members(list, {"chek", "tiemout", "check", "inter", "sni"});
}

TEST_CASE("vocabulary: server settings") {
  const List list = vocabulary::server_settings();
  check_members(list, {"check", "inter", "fall", "rise", "cookie", "resolvers", "weight", "backup",
                       "no-check", "no-ssl", "no-tlsv13", "send-proxy-v2", "sni", "init-addr",
                       "agent-check", "ws", "usesrc", "no-check-send-proxy"});
  check_non_members(list, {"chek", "tiemout", "accept-proxy", "no-verifyhost", "crt-list"});
}

TEST_CASE("vocabulary: fetches") {
  const List list = vocabulary::fetches();
  check_members(list, {"src",
                       "dst_port",
                       "ssl_fc_sni",
                       "req.hdr",
                       "hdr",
                       "hdr_beg",
                       "hdr_end",
                       "path",
                       "path_beg",
                       "path_dir",
                       "url_param",
                       "urlp",
                       "base32+src",
                       "unique-id",
                       "req.ssl_sni",
                       "req_ssl_sni",
                       "sc0_http_req_rate",
                       "sc_get_gpc",
                       "var",
                       "internal.strm.is_htx",
                       "51d.all",
                       "cook_beg",
                       "shdr_sub",
                       "scook",
                       "method"});
  check_non_members(list,
                    {"chek", "tiemout", "req.hdr(host)", "req.cook_beg", "resp.ver", "lower"});
}

TEST_CASE("vocabulary: converters") {
  const List list = vocabulary::converters();
  check_members(list, {"lower", "upper", "base64", "map", "map_str", "map_beg_int", "map_ip_ip",
                       "map_regm", "json", "regsub", "field", "word", "ipmask", "set-var",
                       "table_http_req_rate", "xxh64", "51d.single"});
  check_non_members(list, {"chek", "tiemout", "map_<match_type>", "map_regm_int", "src"});
}

TEST_CASE("vocabulary: http-request actions") {
  const List list = vocabulary::http_request_actions();
  check_members(
      list, {"add-header", "allow", "auth", "cache-use", "capture", "del-acl", "del-header", "deny",
             "redirect", "return", "set-header", "set-path", "tarpit", "set-var", "track-sc0",
             "track-sc2", "do-resolve", "wait-for-handshake", "normalize-uri"});
  check_non_members(list, {"chek", "tiemout", "cache-store", "set-status", "accept", "set-var(x)"});
}

TEST_CASE("vocabulary: http-response actions") {
  const List list = vocabulary::http_response_actions();
  check_members(list, {"add-header", "allow", "cache-store", "del-header", "deny", "redirect",
                       "return", "set-header", "set-status", "set-var", "wait-for-body"});
  check_non_members(list, {"chek", "tiemout", "auth", "cache-use", "tarpit", "set-path"});
}

TEST_CASE("vocabulary: tcp-request content actions") {
  const List list = vocabulary::tcp_request_content_actions();
  check_members(list, {"accept", "reject", "capture", "do-resolve", "set-var", "switch-mode",
                       "track-sc1", "use-service", "silent-drop", "set-priority-class"});
  check_non_members(list, {"chek", "tiemout", "expect-proxy", "close", "add-header"});
}

TEST_CASE("vocabulary: tcp-request connection actions") {
  const List list = vocabulary::tcp_request_connection_actions();
  check_members(list, {"accept", "reject", "expect-proxy", "expect-netscaler-cip", "set-src",
                       "track-sc0", "silent-drop", "sc-inc-gpc0", "set-var"});
  check_non_members(list, {"chek", "tiemout", "capture", "switch-mode", "use-service"});
}

TEST_CASE("vocabulary: contains handles the edges") {
  const List list = vocabulary::proxy_timeouts();
  CHECK(vocabulary::contains(list, list.front()));
  CHECK(vocabulary::contains(list, list.back()));
  CHECK_FALSE(vocabulary::contains(list, ""));
  CHECK_FALSE(vocabulary::contains(list, "a"));
  CHECK_FALSE(vocabulary::contains(list, "zzz"));
  CHECK_FALSE(vocabulary::contains(List{}, "client"));
}
