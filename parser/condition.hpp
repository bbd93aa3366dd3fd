// ACL expressions and `if`/`unless` conditions over named and anonymous ACLs.
#pragma once

#include <optional>
#include <span>

#include "parser/ast.hpp"

namespace sluice::parser {

// `CRITERION [flags] [operator] VALUE...`; `words` must not be empty.
std::optional<ast::AclExpr> parse_acl_expr(std::span<const Word> words, Diagnostics& diags);

// `words` starts with `if` or `unless`.
std::optional<ast::Condition> parse_condition(std::span<const Word> words, Diagnostics& diags);

}  // namespace sluice::parser
