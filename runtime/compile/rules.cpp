#include "runtime/compile/rules.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "parser/suggest.hpp"
#include "runtime/rules/condition.hpp"

namespace sluice::compile {

namespace ast = parser::ast;

config::Sample compile_sample(const ast::Sample& sample) {
  config::Sample out{sample.fetch, sample.args, {}};
  for (const auto& c : sample.converters)
    out.converters.push_back(c.name);
  return out;
}

namespace {

config::Match match_of(ast::MatchMethod m) {
  switch (m) {
    case ast::MatchMethod::none:
      return config::Match::none;
    case ast::MatchMethod::str:
      return config::Match::str;
    case ast::MatchMethod::beg:
      return config::Match::beg;
    case ast::MatchMethod::end:
      return config::Match::end;
    case ast::MatchMethod::sub:
      return config::Match::sub;
    case ast::MatchMethod::reg:
      return config::Match::reg;
    case ast::MatchMethod::found:
      return config::Match::found;
    case ast::MatchMethod::len:
      return config::Match::len;
    case ast::MatchMethod::ip:
      return config::Match::ip;
    case ast::MatchMethod::integer:
      return config::Match::integer;
    case ast::MatchMethod::bool_:
      return config::Match::boolean;
    case ast::MatchMethod::dir:
      return config::Match::dir;
    case ast::MatchMethod::dom:
      return config::Match::dom;
  }
  return config::Match::none;
}

config::IntOp op_of(ast::IntOperator op) {
  switch (op) {
    case ast::IntOperator::none:
      return config::IntOp::none;
    case ast::IntOperator::eq:
      return config::IntOp::eq;
    case ast::IntOperator::ge:
      return config::IntOp::ge;
    case ast::IntOperator::gt:
      return config::IntOp::gt;
    case ast::IntOperator::le:
      return config::IntOp::le;
    case ast::IntOperator::lt:
      return config::IntOp::lt;
  }
  return config::IntOp::none;
}

config::AclTest simple_test(std::string fetch, config::Match match,
                            std::vector<std::string> patterns) {
  config::AclTest t;
  t.sample.fetch = std::move(fetch);
  t.match = match;
  t.patterns = std::move(patterns);
  return t;
}

// HAProxy's predefined ACLs that map onto fetches sluice implements.
std::shared_ptr<const config::Acl> predefined(std::string_view name) {
  auto acl = std::make_shared<config::Acl>();
  acl->name = std::string(name);
  if (name == "TRUE") {
    acl->tests.push_back(simple_test("always_true", config::Match::none, {}));
  } else if (name == "FALSE") {
    acl->tests.push_back(simple_test("always_false", config::Match::none, {}));
  } else if (name == "LOCALHOST") {
    acl->tests.push_back(simple_test("src", config::Match::ip, {"127.0.0.1/8", "::1"}));
  } else if (name.starts_with("METH_")) {
    static constexpr std::string_view methods[] = {"CONNECT", "DELETE", "GET", "HEAD",
                                                   "OPTIONS", "POST",   "PUT", "TRACE"};
    auto method = name.substr(5);
    bool known = false;
    for (auto m : methods)
      known = known || m == method;
    if (!known) return nullptr;
    std::vector<std::string> values{std::string(method)};
    if (method == "GET") values.push_back("HEAD");  // HAProxy's METH_GET matches HEAD too
    acl->tests.push_back(simple_test("method", config::Match::str, values));
  } else if (name == "HTTP_URL_SLASH") {
    acl->tests.push_back(simple_test("url", config::Match::beg, {"/"}));
  } else if (name == "HTTP_URL_STAR") {
    acl->tests.push_back(simple_test("url", config::Match::str, {"*"}));
  } else if (name == "HTTP_URL_ABS") {
    acl->tests.push_back(simple_test("url", config::Match::reg, {"^[^/:]*://"}));
  } else {
    return nullptr;
  }
  return acl;
}

constexpr std::string_view unsupported_predefined[] = {
    "HTTP", "HTTP_1.0", "HTTP_1.1", "HTTP_CONTENT", "RDP_COOKIE", "REQ_CONTENT", "WAIT_END"};

}  // namespace

std::optional<config::AclTest> AclScope::test(const ast::AclExpr& expr) {
  config::AclTest t;
  t.sample = compile_sample(expr.sample);
  t.match = match_of(expr.method);
  t.ignore_case = expr.ignore_case;
  t.op = op_of(expr.op);
  for (const auto& v : expr.values)
    t.patterns.push_back(v.text);
  for (const auto& file : expr.pattern_files) {
    if (!read_files_) continue;
    std::ifstream in(file.text);
    if (!in) {
      diags_.error(file.loc, fmt::format("failed to open pattern file '{}': {}", file.text,
                                         std::strerror(errno)));
      return std::nullopt;
    }
    std::string line;
    while (std::getline(in, line)) {
      auto first = line.find_first_not_of(" \t\r");
      if (first == std::string::npos || line[first] == '#') continue;
      auto last = line.find_last_not_of(" \t\r");
      t.patterns.push_back(line.substr(first, last - first + 1));
    }
  }
  // What HAProxy refuses only when it builds the matcher (a bad regex, a method that does
  // not fit the fetch): found now, at -c, by the same code the worker will run.
  if (auto problem = rules::check(t); !problem.empty()) {
    // Point at the value the message quotes, when it names one.
    parser::Location where = expr.loc;
    for (const auto& value : expr.values)
      if (problem.find("'" + value.text + "'") != std::string::npos) where = value.loc;
    diags_.error(where, problem);
    return std::nullopt;
  }
  return t;
}

void AclScope::declare(const ast::Acl& acl) {
  auto t = test(acl.expr);
  if (!t) return;
  auto& slot = acls_[acl.name.text];
  if (!slot) {
    slot = std::make_shared<config::Acl>();
    slot->name = acl.name.text;
  }
  slot->tests.push_back(std::move(*t));
}

std::shared_ptr<const config::Acl> AclScope::lookup(const parser::Word& name) {
  if (auto it = acls_.find(name.text); it != acls_.end()) return it->second;
  if (auto acl = predefined(name.text)) return acl;
  for (auto p : unsupported_predefined) {
    if (p == name.text) {
      diags_.error(name.loc, fmt::format("predefined ACL '{}' is valid HAProxy but not "
                                         "supported by sluice",
                                         name.text));
      return nullptr;
    }
  }
  std::vector<std::string_view> names;
  for (const auto& [n, _] : acls_)
    names.push_back(n);
  diags_.error(
      name.loc, fmt::format("no such ACL: '{}'", name.text),
      parser::did_you_mean(name.text, names, "declare it with 'acl NAME ...' above this line"));
  return nullptr;
}

std::optional<config::Condition> AclScope::condition(const ast::Condition& cond) {
  config::Condition out;
  out.unless = cond.unless;
  bool ok = true;
  for (const auto& group : cond.any_of) {
    auto& terms = out.any_of.emplace_back();
    for (const auto& term : group) {
      std::shared_ptr<const config::Acl> acl;
      if (const auto* name = std::get_if<parser::Word>(&term.acl)) {
        acl = lookup(*name);
      } else if (auto t = test(std::get<ast::AclExpr>(term.acl))) {
        auto anonymous = std::make_shared<config::Acl>();
        anonymous->tests.push_back(std::move(*t));
        acl = std::move(anonymous);
      }
      if (!acl) {
        ok = false;
        continue;
      }
      terms.push_back({term.negated, std::move(acl)});
    }
  }
  if (!ok) return std::nullopt;
  return out;
}

config::Format AclScope::format(const ast::LogFormat& format) const {
  config::Format out;
  for (const auto& part : format.parts) {
    config::FormatPart p;
    if (const auto* text = std::get_if<std::string>(&part)) {
      p.kind = config::FormatPart::Kind::literal;
      p.text = *text;
    } else if (const auto* sample = std::get_if<ast::Sample>(&part)) {
      p.kind = config::FormatPart::Kind::sample;
      p.sample = compile_sample(*sample);
    } else {
      p.kind = config::FormatPart::Kind::alias;
      p.text = std::get<ast::FormatAlias>(part).name;
    }
    out.push_back(std::move(p));
  }
  return out;
}

}  // namespace sluice::compile
