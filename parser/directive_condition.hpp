// The conditions of HAProxy's `.if`/`.elif` lines and of `-cc` (configuration.txt 2.4):
// integers, `defined()`, `feature()`, `streq()`, `strneq()`, `version_atleast()`,
// `version_before()`, with `!`, `&&`, `||` and parentheses.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <variant>

#include "parser/lexer.hpp"

namespace sluice::parser {

// What conditions ask about the running binary. The caller owns the strings.
struct BuildFacts {
  std::string_view version;                    // the HAProxy version implemented, "2.6.12"
  std::span<const std::string_view> features;  // the names `-vv` lists with a '+'
};

struct ConditionError {
  std::string message;     // HAProxy's wording
  std::size_t offset = 0;  // where in the text
};

// Evaluates `text` (the words after `.if`, joined by one space; empty is false).
std::variant<bool, ConditionError> evaluate_directive_condition(std::string_view text,
                                                                const EnvironmentLookup& env,
                                                                const BuildFacts& build);

// `-cc LINE`: LINE is first split into words as a configuration line is (quotes, escapes,
// variables), then evaluated as the words of an `.if`.
std::variant<bool, ConditionError> evaluate_condition_line(std::string_view line,
                                                           const EnvironmentLookup& env,
                                                           const BuildFacts& build);

// HAProxy's version order: `2.6`, `2.6.12`, `2.6.12.1`, `2.7-dev5`, `2.6.12-3` (3 commits
// after); what does not parse counts as the oldest version. <0, 0, >0 as for strcmp.
int compare_versions(std::string_view a, std::string_view b);

}  // namespace sluice::parser
