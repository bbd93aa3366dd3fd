// The single bridge from configuration text to the immutable runtime Config: reads the -f
// files, parses them, applies defaults, resolves names, checks files and reports every
// problem located at the statement that caused it. `sluice -c` and reload both call this.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "parser/diagnostic.hpp"
#include "parser/document.hpp"
#include "runtime/config/config.hpp"

namespace sluice::compile {

struct CompileResult {
  std::shared_ptr<const config::Config> config;  // null when there are errors
  parser::SourceSet sources;
  parser::Diagnostics diags;
  bool has_listener = false;  // at least one bind: HAProxy's "will not start" otherwise
};

// `paths` as given to -f: files, or directories meaning their *.cfg in lexical order.
CompileResult compile_files(const std::vector<std::string>& paths,
                            const parser::ParseOptions& options = {});

// One in-memory file; for tests and the fuzzer. `check_files` = false skips reading
// certificates and resolving server names (the fuzzer must not touch the system).
CompileResult compile_text(std::string name, std::string text,
                           const parser::ParseOptions& options = {}, bool check_files = true);

}  // namespace sluice::compile
