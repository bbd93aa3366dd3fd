// Whole configurations: files into sections of typed statements.
#pragma once

#include <string>
#include <vector>

#include "parser/ast.hpp"

namespace sluice::parser {

struct ParseOptions {
  EnvironmentLookup env = process_environment();
};

// Parses every line of one loaded file, appending sections to `doc`.
void parse_file(const SourceSet& sources, std::uint32_t file, const ParseOptions& options,
                ast::Document& doc, Diagnostics& diags);

}  // namespace sluice::parser
