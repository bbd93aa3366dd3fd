// Source text and positions: every AST node and diagnostic points into a SourceSet.
// Knows nothing of configuration meaning; only files, lines and columns.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::parser {

struct Location {
  std::uint32_t file = 0;    // index into SourceSet; 0 means "no file" (command line)
  std::uint32_t line = 0;    // 1-based
  std::uint32_t col = 0;     // 1-based byte column
  std::uint32_t length = 1;  // how many bytes the caret underlines
};

// One loaded file. The text is kept whole so diagnostics can quote any line.
class SourceFile {
 public:
  SourceFile(std::string name, std::string text);
  const std::string& name() const { return name_; }
  std::string_view text() const { return text_; }
  std::string_view line(std::uint32_t number) const;  // 1-based, without the newline
  std::uint32_t line_count() const { return static_cast<std::uint32_t>(line_starts_.size()); }

 private:
  std::string name_;
  std::string text_;
  std::vector<std::uint32_t> line_starts_;
};

// Owns every file read for one configuration load. Stable addresses (deque).
class SourceSet {
 public:
  SourceSet();
  std::uint32_t add(std::string name, std::string text);
  // Reads a file; nullopt and errno-style message when it cannot be read.
  std::optional<std::uint32_t> load(const std::string& path, std::string& error);
  const SourceFile& file(std::uint32_t index) const { return files_[index]; }
  std::size_t size() const { return files_.size(); }

 private:
  std::deque<SourceFile> files_;
};

}  // namespace sluice::parser
