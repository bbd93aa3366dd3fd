// Compiles ACLs, conditions and log-format strings of one proxy. ACL names resolve in
// declaration order, as in HAProxy: a condition sees only the ACLs declared above it.
#pragma once

#include <map>
#include <memory>
#include <optional>

#include "parser/ast.hpp"
#include "parser/diagnostic.hpp"
#include "runtime/config/config.hpp"

namespace sluice::compile {

class AclScope {
 public:
  AclScope(parser::Diagnostics& diags, bool read_files) : diags_(diags), read_files_(read_files) {}

  // `acl NAME ...`: a second line with the same name adds an alternative.
  void declare(const parser::ast::Acl& acl);

  std::optional<config::Condition> condition(const parser::ast::Condition& cond);
  config::Format format(const parser::ast::LogFormat& format) const;

 private:
  std::optional<config::AclTest> test(const parser::ast::AclExpr& expr);
  std::shared_ptr<const config::Acl> lookup(const parser::Word& name);

  parser::Diagnostics& diags_;
  bool read_files_;
  std::map<std::string, std::shared_ptr<config::Acl>, std::less<>> acls_;
};

config::Sample compile_sample(const parser::ast::Sample& sample);

}  // namespace sluice::compile
