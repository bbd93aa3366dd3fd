#include "parser/diagnostic.hpp"

#include <fmt/format.h>

namespace sluice::parser {

void Diagnostics::error(Location where, std::string message, std::string hint) {
  items_.push_back({Severity::error, where, std::move(message), std::move(hint)});
  ++errors_;
}

void Diagnostics::warning(Location where, std::string message, std::string hint) {
  items_.push_back({Severity::warning, where, std::move(message), std::move(hint)});
  ++warnings_;
}

void Diagnostics::note(Location where, std::string message, std::string hint) {
  items_.push_back({Severity::note, where, std::move(message), std::move(hint)});
}

namespace {
const char* severity_word(Severity s) {
  switch (s) {
    case Severity::error:
      return "error";
    case Severity::warning:
      return "warning";
    case Severity::note:
      return "note";
  }
  return "error";
}
}  // namespace

std::string render(const Diagnostic& d, const SourceSet& sources) {
  std::string out;
  const bool has_file = d.where.file != 0 && d.where.file < sources.size();
  if (has_file) {
    const SourceFile& file = sources.file(d.where.file);
    out = fmt::format("{}:{}:{}: {}: {}\n", file.name(), d.where.line, d.where.col,
                      severity_word(d.severity), d.message);
    std::string_view line = file.line(d.where.line);
    if (!line.empty() || d.where.line != 0) {
      std::string gutter = fmt::format("{:>5} | ", d.where.line);
      out += gutter;
      out += line;
      out += '\n';
      std::string pad(gutter.size() - 2, ' ');
      pad += "| ";
      // Tabs in the quoted line are kept so the caret lines up under them.
      for (std::uint32_t i = 1; i < d.where.col && i - 1 < line.size(); ++i)
        pad += line[i - 1] == '\t' ? '\t' : ' ';
      out += pad;
      out += '^';
      if (d.where.length > 1) out += std::string(d.where.length - 1, '~');
      out += '\n';
    }
  } else {
    out = fmt::format("sluice: {}: {}\n", severity_word(d.severity), d.message);
  }
  if (!d.hint.empty()) out += fmt::format("      = hint: {}\n", d.hint);
  return out;
}

}  // namespace sluice::parser
