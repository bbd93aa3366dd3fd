#include "parser/source.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>

namespace sluice::parser {

SourceFile::SourceFile(std::string name, std::string text)
    : name_(std::move(name)), text_(std::move(text)) {
  line_starts_.push_back(0);
  for (std::uint32_t i = 0; i < text_.size(); ++i) {
    if (text_[i] == '\n' && i + 1 < text_.size()) line_starts_.push_back(i + 1);
  }
}

std::string_view SourceFile::line(std::uint32_t number) const {
  if (number == 0 || number > line_starts_.size()) return {};
  std::string_view rest = std::string_view(text_).substr(line_starts_[number - 1]);
  auto end = rest.find('\n');
  if (end != std::string_view::npos) rest = rest.substr(0, end);
  if (!rest.empty() && rest.back() == '\r') rest.remove_suffix(1);
  return rest;
}

SourceSet::SourceSet() {
  files_.emplace_back("<command line>", "");
}

std::uint32_t SourceSet::add(std::string name, std::string text) {
  files_.emplace_back(std::move(name), std::move(text));
  return static_cast<std::uint32_t>(files_.size() - 1);
}

std::optional<std::uint32_t> SourceSet::load(const std::string& path, std::string& error) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) {
    error = std::strerror(errno);
    return std::nullopt;
  }
  const auto size = in.tellg();
  std::string text;
  if (size > 0) {
    text.resize(static_cast<std::size_t>(size));
    in.seekg(0);
    in.read(text.data(), size);
  }
  if (in.bad() || size < 0) {
    error = std::strerror(errno ? errno : EIO);
    return std::nullopt;
  }
  return add(path, std::move(text));
}

}  // namespace sluice::parser
