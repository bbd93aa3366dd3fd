#include "runtime/compile/compile.hpp"

#include <doctest/doctest.h>

using namespace sluice;

namespace {

compile::CompileResult build(const std::string& text) {
  parser::ParseOptions options;
  options.env = [](std::string_view) { return std::nullopt; };
  return compile::compile_text("t.cfg", text, options, false);
}

std::string first_error(const compile::CompileResult& r) {
  for (const auto& d : r.diags.all())
    if (d.severity == parser::Severity::error) return d.message;
  return {};
}

bool has_warning(const compile::CompileResult& r, std::string_view text) {
  for (const auto& d : r.diags.all())
    if (d.severity == parser::Severity::warning && d.message.find(text) != std::string::npos)
      return true;
  return false;
}

constexpr const char* timeouts =
    "defaults\n  mode http\n  timeout client 5s\n  timeout server 5s\n  timeout connect 1s\n";

}  // namespace

TEST_CASE("defaults are inherited and overridden") {
  auto r = build(std::string(timeouts) +
                 "frontend fe\n  bind :8080\n  timeout client 9s\n  default_backend be\n"
                 "backend be\n  balance leastconn\n  server s1 127.0.0.1:9000 weight 5\n");
  REQUIRE(r.config);
  const auto& fe = r.config->frontends.at(0);
  CHECK(fe.mode == config::Mode::http);
  CHECK(fe.timeouts.client == config::Millis(9000));
  REQUIRE(fe.default_backend);
  const auto& be = r.config->backends.at(*fe.default_backend);
  CHECK(be.name == "be");
  CHECK(be.timeouts.server == config::Millis(5000));
  CHECK(be.balance == config::Balance::leastconn);
  CHECK(be.servers.at(0).weight == 5);
  CHECK(r.has_listener);
}

TEST_CASE("a proxy inherits the last defaults above it, or the one named by 'from'") {
  auto r = build(
      "defaults a\n  mode tcp\n  timeout client 1s\n  timeout server 1s\n"
      "  timeout connect 1s\ndefaults b\n  mode http\n  timeout client 2s\n"
      "  timeout server 2s\n  timeout connect 2s\n"
      "frontend one\n  bind :81\n  default_backend x\n"
      "frontend two from a\n  bind :82\n  default_backend y\n"
      "backend x\n  mode http\nbackend y from a\n");
  REQUIRE(r.config);
  CHECK(r.config->frontends[0].mode == config::Mode::http);
  CHECK(r.config->frontends[1].mode == config::Mode::tcp);
  CHECK(first_error(build("frontend f from nowhere\n  bind :80\n")) ==
        "defaults section 'nowhere' not found");
}

TEST_CASE("listen is a frontend and a backend of the same name") {
  auto r =
      build(std::string(timeouts) + "listen web\n  bind :8080\n  server s1 127.0.0.1:9000 check\n");
  REQUIRE(r.config);
  REQUIRE(r.config->frontends.size() == 1);
  REQUIRE(r.config->backends.size() == 1);
  CHECK(r.config->frontends[0].default_backend == 0u);
  CHECK(r.config->backends[0].servers[0].check);
}

TEST_CASE("default-server settings apply before each server's own") {
  auto r = build(std::string(timeouts) +
                 "backend be\n  default-server inter 3s fall 5 check\n"
                 "  server a 127.0.0.1:1\n  server b 127.0.0.1:2 no-check fall 2\n"
                 "frontend fe\n  bind :80\n  default_backend be\n");
  REQUIRE(r.config);
  const auto& servers = r.config->backends[0].servers;
  CHECK(servers[0].check);
  CHECK(servers[0].inter == config::Millis(3000));
  CHECK(servers[0].fall == 5);
  CHECK_FALSE(servers[1].check);
  CHECK(servers[1].fall == 2);
}

TEST_CASE("name resolution errors carry the statement's location") {
  auto r = build(std::string(timeouts) + "frontend fe\n  bind :80\n  default_backend nope\n");
  CHECK(first_error(r) == "frontend 'fe' refers to backend 'nope', which does not exist");
  CHECK(r.diags.all().front().where.line == 8);
  CHECK_FALSE(r.config);

  auto mode = build(std::string(timeouts) +
                    "frontend fe\n  bind :80\n  use_backend be if TRUE\n"
                    "backend be\n  mode tcp\n");
  CHECK(first_error(mode).starts_with("http frontend 'fe' cannot use tcp backend 'be'"));

  auto dup = build(std::string(timeouts) + "backend be\nbackend be\n");
  CHECK(first_error(dup).starts_with("backend 'be' has the same name as another backend"));

  auto server = build(std::string(timeouts) +
                      "backend be\n  server a 1.1.1.1:1\n"
                      "  server a 1.1.1.1:2\n");
  CHECK(first_error(server) == "backend 'be' already has a server named 'a' (line 7)");
}

TEST_CASE("ACLs resolve in declaration order, predefined ones included") {
  CHECK(first_error(build(std::string(timeouts) +
                          "frontend fe\n  bind :80\n  http-request deny if is_x\n"
                          "  acl is_x path /x\n")) == "no such ACL: 'is_x'");
  auto ok = build(std::string(timeouts) +
                  "frontend fe\n  bind :80\n  acl is_x path /x\n  acl is_x path /y\n"
                  "  http-request deny if is_x || METH_POST\n  http-request deny if !TRUE\n");
  REQUIRE(ok.config);
  const auto& rules = ok.config->frontends[0].http_request;
  REQUIRE(rules.size() == 2);
  CHECK(rules[0].condition->any_of[0][0].acl->tests.size() == 2);
  CHECK(first_error(build(std::string(timeouts) +
                          "frontend fe\n  bind :80\n  http-request deny if HTTP_1.1\n")) ==
        "predefined ACL 'HTTP_1.1' is valid HAProxy but not supported by sluice");
}

TEST_CASE("ssl on a bind needs a certificate") {
  CHECK(first_error(build(std::string(timeouts) + "frontend fe\n  bind :443 ssl\n")) ==
        "no SSL certificate specified for bind ':443'");
}

TEST_CASE("warnings: missing timeouts, no bind, not yet enforced") {
  auto r = build(
      "global\n  chroot /var/empty\n"
      "frontend fe\n  mode http\n  default_backend be\n"
      "backend be\n  mode http\n  option tcp-check\n");
  CHECK_FALSE(r.diags.has_errors());
  CHECK(has_warning(r, "frontend 'fe' has no 'bind' directive"));
  CHECK(has_warning(r, "missing timeouts for frontend 'fe'"));
  CHECK(has_warning(r, "missing timeouts for backend 'be'"));
  CHECK(has_warning(r, "'chroot' parsed, not yet enforced"));
  CHECK_FALSE(has_warning(r, "'option tcp-check' parsed"));  // served since tcp-check landed
  CHECK_FALSE(has_warning(r, "'option httpchk' parsed"));    // served since health checks landed
  CHECK_FALSE(has_warning(r, "'default_backend' parsed"));   // served since mode tcp landed
  CHECK_FALSE(r.has_listener);
}

TEST_CASE("ACL values are checked with HAProxy's rules at compile time") {
  auto acl = [](const std::string& line) {
    return first_error(build(std::string(timeouts) + "frontend fe\n  bind :80\n  acl a " + line +
                             "\n  http-request deny if a\n"));
  };
  CHECK(acl("dst_port abc") == "'abc' is not a valid number range");
  CHECK(acl("src 1.2.3.999") == "'1.2.3.999' is not a valid IPv4 or IPv6 address");
  CHECK(acl("src 10.0.0.0/33") == "'10.0.0.0/33' is not a valid IPv4 or IPv6 address");
  // Forms HAProxy 2.6 accepts, and so must we.
  CHECK(acl("src 10.1/16") == "");
  CHECK(acl("dst_port 10-20 1024:65535") == "");
  CHECK(acl("src 10.0.0.0/255.255.0.0") == "");
}
