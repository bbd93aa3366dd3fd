// Shared by the proxy HTTP tests: rules compiled from a config text through the compile
// library (as `sluice -f` builds them), and one parsed request with its facts, arena and
// scratch, ready to run rules on.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "runtime/compile/compile.hpp"
#include "runtime/http/parser.hpp"
#include "runtime/http/serializer.hpp"
#include "runtime/proxy/http_facts.hpp"
#include "runtime/proxy/http_rules.hpp"

namespace sluice::proxy::testing {

inline io::SocketAddress address(const char* ip, std::uint16_t port) {
  io::SocketAddress a;
  if (std::strchr(ip, ':') != nullptr) {
    sockaddr_in6 sin6{};
    sin6.sin6_family = AF_INET6;
    sin6.sin6_port = htons(port);
    inet_pton(AF_INET6, ip, &sin6.sin6_addr);
    std::memcpy(&a.storage, &sin6, sizeof sin6);
    a.length = sizeof sin6;
  } else {
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_port = htons(port);
    inet_pton(AF_INET, ip, &sin.sin_addr);
    std::memcpy(&a.storage, &sin, sizeof sin);
    a.length = sizeof sin;
  }
  return a;
}

// `lines` go into a frontend (and `backend_lines` into its backend), as written in a file.
struct CompiledRules {
  compile::CompileResult result;
  rules::Compiler conditions;
  HttpRuleSet request, response, redirects;

  explicit CompiledRules(const std::string& lines, const std::string& backend_lines = "") {
    parser::ParseOptions options;
    options.env = [](std::string_view) { return std::nullopt; };
    result =
        compile::compile_text("t.cfg",
                              "defaults\n  mode http\n  timeout client 1s\n  timeout server 1s\n"
                              "  timeout connect 1s\nfrontend fe\n  bind 127.0.0.1:80\n" +
                                  lines + "\n  default_backend be\nbackend be\n" + backend_lines +
                                  "\n  server s1 127.0.0.1:8080\n",
                              options, false);
    for (const auto& d : result.diags.all())
      if (d.severity == parser::Severity::error) FAIL_CHECK(d.message);
    REQUIRE(result.config);
    const auto& fe = result.config->frontends.at(0);
    request = HttpRuleSet::compile(fe.http_request, rules::Side::request, conditions);
    response = HttpRuleSet::compile(fe.http_response, rules::Side::response, conditions);
    redirects = HttpRuleSet::compile(fe.redirects, rules::Side::request, conditions);
  }
  const config::Frontend& frontend() const { return result.config->frontends.at(0); }
  const config::Backend& backend() const { return result.config->backends.at(0); }
};

// One request as the session holds it: parsed from `raw`, with its facts and buffers.
struct Exchange {
  std::string raw;
  http::Message request;
  http::Message response{16};
  std::string raw_response;
  io::SocketAddress client;
  io::SocketAddress local = address("127.0.0.1", 80);
  ConnectionFacts::ServerCount servers = [](std::string_view backend) {
    return backend.empty() ? 2 : backend == "be" ? 1 : -1;
  };
  HttpFacts facts{client, local, &servers};
  RewriteArena arena;
  http::HeaderList reply_headers{16};
  std::vector<char> scratch = std::vector<char>(16384);

  explicit Exchange(std::string head, std::size_t arena_size = 4096, std::size_t max_headers = 101,
                    const char* client_ip = "192.0.2.7")
      : raw(std::move(head)),
        request(max_headers),
        client(address(client_ip, 5555)),
        arena(arena_size) {
    http::HeadParser parser;
    parser.start_request();
    const auto r = parser.parse(raw, request);
    REQUIRE(r.status == http::ParseStatus::done);
    facts.set_request(&request);
  }

  void set_response(std::string head) {
    raw_response = std::move(head);
    http::HeadParser parser;
    parser.start_response(request.method, false);
    const auto r = parser.parse(raw_response, response);
    REQUIRE(r.status == http::ParseStatus::done);
    facts.set_response(&response);
  }

  RuleOutcome run(const HttpRuleSet& rules, http::Message& message) {
    RuleContext ctx{facts, arena, scratch, reply_headers};
    return rules.run(message, ctx);
  }
  RuleOutcome run(const HttpRuleSet& rules) { return run(rules, request); }

  static std::string head_of(const http::Message& m) {
    std::string out(http::head_size(m), '\0');
    REQUIRE(http::write_head(m, out).fits);
    return out;
  }
  std::string head() const { return head_of(request); }
};

}  // namespace sluice::proxy::testing
