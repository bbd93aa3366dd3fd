// The lexical layer of HAProxy's configuration language: lines into words.
// Handles comments, "double" quotes (escapes, $VAR / ${VAR} / ${VAR-default} expansion),
// 'single' quotes (literal) and backslash escapes. Knows no keyword.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "parser/diagnostic.hpp"
#include "parser/source.hpp"

namespace sluice::parser {

struct Word {
  std::string text;
  Location loc;
  bool quoted = false;  // some part came from quotes: `{` in quotes is not a brace
};

struct Line {
  std::uint32_t number = 0;
  std::vector<Word> words;
};

// Looks a variable up; nullopt when unset. Injected so tests need no real environment.
using EnvironmentLookup = std::function<std::optional<std::string>(std::string_view name)>;
EnvironmentLookup process_environment();

// Splits one line into words. Errors (an unterminated quote) go to `diags`. `-cc` reads its
// argument without comments: there `#` is a character like any other, as in HAProxy.
enum class Comments : bool { end_the_line, are_text };
Line lex_line(std::string_view text, std::uint32_t file, std::uint32_t number,
              const EnvironmentLookup& env, Diagnostics& diags,
              Comments comments = Comments::end_the_line);

}  // namespace sluice::parser
