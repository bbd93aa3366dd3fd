// Whole configurations: files into sections of typed statements.
#pragma once

#include <string>
#include <vector>

#include "parser/ast.hpp"
#include "parser/directive_condition.hpp"

namespace sluice::parser {

struct ParseOptions {
  EnvironmentLookup env = process_environment();
  BuildFacts build;              // what `.if feature()`/`version_*()` ask about
  bool diagnostic_mode = false;  // -dD: `.diag` lines speak
};

// Parses every line of one loaded file, appending sections to `doc`.
void parse_file(const SourceSet& sources, std::uint32_t file, const ParseOptions& options,
                ast::Document& doc, Diagnostics& diags);

}  // namespace sluice::parser
