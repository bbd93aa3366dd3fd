// Located diagnostics: `file:line:col: error: message`, the source line, a caret, a hint.
// Collected, never thrown, so one pass reports every error of a configuration.
#pragma once

#include <string>
#include <vector>

#include "parser/source.hpp"

namespace sluice::parser {

enum class Severity { note, warning, error };

struct Diagnostic {
  Severity severity = Severity::error;
  Location where;
  std::string message;
  std::string hint;  // empty when none helps
};

class Diagnostics {
 public:
  void error(Location where, std::string message, std::string hint = {});
  void warning(Location where, std::string message, std::string hint = {});
  void note(Location where, std::string message, std::string hint = {});

  const std::vector<Diagnostic>& all() const { return items_; }
  std::size_t error_count() const { return errors_; }
  std::size_t warning_count() const { return warnings_; }
  bool has_errors() const { return errors_ != 0; }

 private:
  std::vector<Diagnostic> items_;
  std::size_t errors_ = 0;
  std::size_t warnings_ = 0;
};

// Renders one diagnostic in the gcc/clang shape; quotes the line when the file is known.
std::string render(const Diagnostic& d, const SourceSet& sources);

}  // namespace sluice::parser
