// Keyword tables through the document parser: accepted forms produce typed statements,
// rejected forms produce one located error each.
#include <doctest/doctest.h>

#include <memory>

#include "parser/document.hpp"

using namespace sluice::parser;

namespace {

struct Parsed {
  SourceSet sources;
  ast::Document doc;
  Diagnostics diags;
};

std::unique_ptr<Parsed> parse(const std::string& text) {
  auto p = std::make_unique<Parsed>();
  auto file = p->sources.add("t.cfg", text);
  ParseOptions options;
  options.env = [](std::string_view) { return std::nullopt; };
  parse_file(p->sources, file, options, p->doc, p->diags);
  return p;
}

std::string first_error(const Parsed& p) {
  for (const auto& d : p.diags.all())
    if (d.severity == Severity::error) return d.message;
  return {};
}

const ast::Statement& only_statement(const Parsed& p) {
  REQUIRE(p.doc.sections.size() == 1);
  REQUIRE(p.doc.sections[0].statements.size() == 1);
  return p.doc.sections[0].statements[0];
}

}  // namespace

TEST_CASE("sections and their headers") {
  auto p = parse("global\ndefaults web\nfrontend fe from web\nbackend be\nlisten li\n");
  CHECK_FALSE(p->diags.has_errors());
  REQUIRE(p->doc.sections.size() == 5);
  CHECK(p->doc.sections[1].name->text == "web");
  CHECK(p->doc.sections[2].from->text == "web");
  CHECK(first_error(*parse("listen li 127.0.0.1:81\n")) ==
        "please use the 'bind' keyword for listening addresses");

  CHECK(first_error(*parse("frontend\n")) == "'frontend' needs a name");
  CHECK(first_error(*parse("global x\n")) == "'global' takes no argument");
  CHECK(first_error(*parse("userlist u\n  user a password x\n")) ==
        "section 'userlist' is valid HAProxy but not supported by sluice");
  CHECK(first_error(*parse("  mode http\n")) == "unknown keyword 'mode' out of section");
}

TEST_CASE("unknown and unsupported keywords") {
  auto p = parse("defaults\n  tiemout client 5s\n");
  CHECK(first_error(*p) == "unknown keyword 'tiemout' in 'defaults' section");
  CHECK(p->diags.all()[0].hint == "did you mean 'timeout'?");
  CHECK(p->diags.all()[0].where.line == 2);
  CHECK(p->diags.all()[0].where.col == 3);

  CHECK(first_error(*parse("frontend f\n  stick-table type ip size 1m\n")) ==
        "'stick-table' is valid HAProxy but not supported by sluice");
  CHECK(first_error(*parse("global\n  lua-load x.lua\n")) ==
        "'lua-load' is valid HAProxy but not supported by sluice");
  CHECK(first_error(*parse("defaults\n  option splice-auto\n")) ==
        "'option splice-auto' is valid HAProxy but not supported by sluice");
  auto opt = parse("defaults\n  option htpchk\n");
  CHECK(first_error(*opt) == "unknown option 'htpchk' in 'defaults' section");
  CHECK(opt->diags.all()[0].hint == "did you mean 'option httpchk'?");
  CHECK(first_error(*parse("defaults\n  timeout clinet 5s\n")) ==
        "unknown timeout 'clinet' in 'defaults' section");
  CHECK(first_error(*parse("frontend f\n  nbthread 4\n")) ==
        "unknown keyword 'nbthread' in 'frontend' section");
}

TEST_CASE("placement: defaults, anonymous defaults and proxy sides") {
  CHECK(first_error(*parse("defaults\n  bind :80\n")) ==
        "'bind' not allowed in 'defaults' section");
  CHECK(first_error(*parse("defaults\n  acl a src 1.2.3.4\n")) ==
        "'acl' not allowed in anonymous 'defaults' section");
  CHECK_FALSE(parse("defaults named\n  acl a src 1.2.3.4\n")->diags.has_errors());
  CHECK(first_error(*parse("frontend f\n  server s 1.2.3.4:80\n")) ==
        "'server' not allowed because frontend 'f' has no backend capability");
  auto warn = parse("backend b\n  bind :80\n");
  CHECK_FALSE(warn->diags.has_errors());
  REQUIRE(warn->diags.warning_count() == 1);
  CHECK(warn->diags.all()[0].message ==
        "'bind' ignored because backend 'b' has no frontend "
        "capability");
  CHECK(warn->doc.sections[0].statements.empty());
}

TEST_CASE("mode") {
  auto p = parse("defaults\n  mode http\n");
  CHECK(std::get<ast::Mode>(only_statement(*p).payload).mode == ast::ProxyMode::http);
  CHECK(first_error(*parse("defaults\n  mode htp\n")) == "unknown proxy mode 'htp'");
  CHECK(first_error(*parse("defaults\n  mode\n")) == "'mode' expects 1 argument(s)");
  CHECK(first_error(*parse("defaults\n  mode http tcp\n")) ==
        "'mode' takes at most 1 argument(s); unexpected 'tcp'");
}

TEST_CASE("timeouts") {
  auto p = parse("defaults\n  timeout client 30s\n");
  CHECK(only_statement(*p).keyword == "timeout client");
  CHECK(std::get<ast::Duration>(only_statement(*p).payload).us == 30'000'000);
  CHECK(first_error(*parse("defaults\n  timeout client 30x\n")) ==
        "'timeout client': unknown unit 'x' in time");
}

TEST_CASE("bind lines") {
  auto p = parse(
      "frontend f\n  bind :443,:8443 ssl crt site.pem alpn h2,http/1.1 ssl-min-ver "
      "TLSv1.2\n");
  const auto& bind = std::get<ast::Bind>(only_statement(*p).payload);
  CHECK(bind.addresses.size() == 2);
  REQUIRE(bind.settings.size() == 4);
  CHECK(bind.settings[1].name.text == "crt");
  CHECK(bind.settings[1].value->text == "site.pem");
  CHECK(first_error(*parse("frontend f\n  bind :443 ssl crt\n")) ==
        "bind setting 'crt' expects an argument");
  CHECK(first_error(*parse("frontend f\n  bind :443 ssl-min-ver TLS1\n")) ==
        "bind setting 'ssl-min-ver': 'TLS1' is not one of: SSLv3 TLSv1.0 TLSv1.1 TLSv1.2 TLSv1.3");
  CHECK(first_error(*parse("frontend f\n  bind :443 tfo\n")) ==
        "bind setting 'tfo' is valid HAProxy but not supported by sluice");
  auto typo = parse("frontend f\n  bind :443 strict-sin\n");
  CHECK(first_error(*typo) == "unknown bind setting 'strict-sin'");
  CHECK(typo->diags.all()[0].hint == "did you mean 'strict-sni'?");
  auto bad_port = parse("frontend f\n  bind 127.0.0.1:99999\n");
  CHECK(first_error(*bad_port) == "bind: port 99999 is out of range (1 to 65535)");
  CHECK(bad_port->diags.all()[0].where.col == 18);
}

TEST_CASE("server lines") {
  auto p = parse(
      "backend b\n  server s1 10.0.0.1:80 check inter 2s rise 3 fall 2 weight 10 "
      "backup no-check\n");
  const auto& server = std::get<ast::Server>(only_statement(*p).payload);
  CHECK(server.name.text == "s1");
  REQUIRE(server.settings.size() == 7);
  CHECK(server.settings[6].negated);
  CHECK(server.settings[6].name.text == "check");
  CHECK(first_error(*parse("backend b\n  server s1 10.0.0.1:80 weight 300\n")) ==
        "server setting 'weight': value 300 is out of range [0, 256]");
  auto typo = parse("backend b\n  server s1 10.0.0.1:80 chek\n");
  CHECK(first_error(*typo) == "unknown server setting 'chek'");
  CHECK(typo->diags.all()[0].hint == "did you mean 'check'?");
  CHECK(first_error(*parse("backend b\n  server s1\n")) ==
        "'server' expects at least 2 argument(s)");
}

TEST_CASE("acl and conditions") {
  auto p = parse(
      "frontend f\n  acl is_api path_beg -i /api /v2\n"
      "  use_backend api if is_api !{ ssl_fc } || { hdr(host) -m end .example.com }\n");
  REQUIRE(p->doc.sections[0].statements.size() == 2);
  const auto& acl = std::get<ast::Acl>(p->doc.sections[0].statements[0].payload);
  CHECK(acl.expr.ignore_case);
  CHECK(acl.expr.method == ast::MatchMethod::beg);
  CHECK(acl.expr.values.size() == 2);
  const auto& use = std::get<ast::BackendRef>(p->doc.sections[0].statements[1].payload);
  REQUIRE(use.condition);
  REQUIRE(use.condition->any_of.size() == 2);
  CHECK(use.condition->any_of[0].size() == 2);
  CHECK(use.condition->any_of[0][1].negated);

  CHECK(first_error(*parse("frontend f\n  acl a src_prt 80\n")) ==
        "unknown fetch method 'src_prt'");
  CHECK(first_error(*parse("frontend f\n  acl a sc0_http_req_rate gt 10\n")) ==
        "fetch 'sc0_http_req_rate' is valid HAProxy but not supported by sluice");

  // Values (integers, addresses) are checked by runtime/rules at compile: see compile_test.
  CHECK(first_error(*parse("frontend f\n  acl a dst_port -5\n")) == "unknown ACL flag '-5'");
  CHECK(first_error(*parse("frontend f\n  acl a path -m nope /x\n")) ==
        "unknown match method 'nope'");
  CHECK(first_error(*parse("frontend f\n  use_backend b if { ssl_fc\n")) ==
        "missing '}' to close the anonymous ACL");
  CHECK(first_error(*parse("frontend f\n  use_backend b if\n")) == "missing condition after 'if'");
  CHECK(first_error(*parse("frontend f\n  use_backend b if a ||\n")) == "condition ends with '||'");
  CHECK(first_error(*parse("frontend f\n  use_backend b c\n")) ==
        "unexpected 'c' after the backend name");
}

TEST_CASE("http-request and http-response actions") {
  auto p = parse("frontend f\n  http-request set-header X-Forwarded-Proto https if { ssl_fc }\n");
  const auto& rule = std::get<ast::HttpRule>(only_statement(*p).payload);
  CHECK(rule.condition.has_value());
  CHECK(std::get<ast::HeaderAction>(rule.action).name.text == "X-Forwarded-Proto");

  CHECK_FALSE(parse("frontend f\n  http-request set-header X-Client %[src]:%[src_port]\n")
                  ->diags.has_errors());
  CHECK_FALSE(parse("frontend f\n  http-request return status 200 content-type text/plain "
                    "string ok\n")
                  ->diags.has_errors());
  CHECK_FALSE(parse("frontend f\n  http-request deny deny_status 429\n")->diags.has_errors());
  CHECK_FALSE(parse("frontend f\n  http-response set-header Strict-Transport-Security "
                    "\"max-age=31536000\"\n")
                  ->diags.has_errors());
  CHECK(first_error(*parse("frontend f\n  http-request set-header X-A %[nope]\n")) ==
        "unknown fetch method 'nope'");
  CHECK(first_error(*parse("frontend f\n  http-request set-header X-A\n")) ==
        "'set-header' expects 2 argument(s)");
  CHECK(first_error(*parse("frontend f\n  http-request tarpit\n")) ==
        "'http-request tarpit' is valid HAProxy but not supported by sluice");
  CHECK(first_error(*parse("frontend f\n  http-request set-heder X v\n")) ==
        "unknown 'http-request' action 'set-heder'");
  CHECK(first_error(*parse("frontend f\n  http-request return string ok\n")) ==
        "'return' with a body needs 'content-type'");
  CHECK(first_error(*parse("frontend f\n  http-response redirect location /\n")) ==
        "'http-response redirect' is valid HAProxy but not supported by sluice");
}

TEST_CASE("redirect") {
  auto p = parse("frontend f\n  redirect scheme https code 301 if !{ ssl_fc }\n");
  const auto& rule = std::get<ast::HttpRule>(only_statement(*p).payload);
  const auto& r = std::get<ast::RedirectAction>(rule.action);
  CHECK(r.kind == ast::RedirectAction::Kind::scheme);
  CHECK(r.code == 301);
  CHECK(first_error(*parse("frontend f\n  redirect scheme https code 305\n")) ==
        "invalid redirect code 305");
  CHECK(first_error(*parse("frontend f\n  redirect elsewhere /x\n")) ==
        "unknown redirect type 'elsewhere'");
}

TEST_CASE("tcp-request, balance, option arguments, log, errorfile") {
  CHECK_FALSE(parse("frontend f\n  tcp-request inspect-delay 5s\n  tcp-request content accept "
                    "if { req.ssl_hello_type 1 }\n")
                  ->diags.has_errors());
  CHECK(first_error(*parse("frontend f\n  tcp-request content track-sc0 src\n")) ==
        "'tcp-request content track-sc0' is valid HAProxy but not supported by sluice");
  CHECK_FALSE(parse("backend b\n  balance hdr(host)\n")->diags.has_errors());
  CHECK_FALSE(parse("backend b\n  balance uri whole depth 3\n")->diags.has_errors());
  CHECK(first_error(*parse("backend b\n  balance roundrobbin\n")) ==
        "unknown load balancing algorithm 'roundrobbin'");
  CHECK(first_error(*parse("backend b\n  balance url_param id\n")) ==
        "'balance url_param' is valid HAProxy but not supported by sluice");
  CHECK_FALSE(parse("frontend f\n  option forwardfor except 127.0.0.0/8 header X-Real-IP "
                    "if-none\n")
                  ->diags.has_errors());
  CHECK(first_error(*parse("frontend f\n  option forwardfor sometimes\n")) ==
        "unexpected 'sometimes' in 'option forwardfor'");
  CHECK_FALSE(parse("backend b\n  option httpchk GET /health HTTP/1.1\n")->diags.has_errors());
  CHECK_FALSE(parse("global\n  log 127.0.0.1:514 len 2048 format rfc5424 local0 info\n")
                  ->diags.has_errors());
  CHECK(first_error(*parse("global\n  log 127.0.0.1:514 local9\n")) ==
        "unknown log facility 'local9'");
  CHECK(first_error(*parse("defaults\n  errorfile 418 /dev/null\n")) ==
        "'errorfile' does not support status 418");
  CHECK_FALSE(parse("defaults\n  no option httpclose\n  no log\n")->diags.has_errors());
  CHECK(first_error(*parse("defaults\n  no mode\n")) == "'no' cannot prefix 'mode'");
}

TEST_CASE("global keywords") {
  CHECK_FALSE(parse("global\n  daemon\n  nbthread 4\n  maxconn 1000\n  tune.bufsize 32768\n"
                    "  hard-stop-after 30s\n  ssl-default-bind-options ssl-min-ver TLSv1.2 "
                    "no-tls-tickets\n")
                  ->diags.has_errors());
  CHECK(first_error(*parse("global\n  nbthread 0\n")) ==
        "'nbthread': value 0 is out of range [1, 64]");
  CHECK(first_error(*parse("global\n  daemon yes\n")) == "'daemon' takes no argument");
  CHECK(first_error(*parse("global\n  mode http\n")) ==
        "unknown keyword 'mode' in 'global' section");
}
