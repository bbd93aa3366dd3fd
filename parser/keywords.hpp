// Keyword tables: one row per keyword a section accepts, with its argument parser.
// A HAProxy keyword without a row is reported as "not supported by sluice" (see vocabulary).
#pragma once

#include <optional>
#include <span>
#include <string_view>

#include "parser/ast.hpp"
#include "parser/diagnostic.hpp"

namespace sluice::parser {

enum SectionBits : unsigned {
  in_global = 1u << 0,
  in_defaults = 1u << 1,
  in_frontend = 1u << 2,
  in_backend = 1u << 3,
  in_listen = 1u << 4,
  in_proxies = in_defaults | in_frontend | in_backend | in_listen,
};

unsigned section_bit(ast::SectionKind kind);

// Which side of a proxy a keyword acts on. Used in a proxy lacking that side, HAProxy ignores
// the keyword with a warning, or refuses it (`server`, `default-server`).
enum class Side { any, frontend, backend };
enum class WrongSide { warn_ignored, error };

// What a keyword's parser sees: the statement's words after the keyword path.
struct Args {
  const Word& keyword;          // first word of the statement, for locations
  std::string_view path;        // "timeout client"
  std::span<const Word> words;  // arguments
  Diagnostics& diags;
  Location end;  // just past the last word, for "missing argument" carets

  // Reports `path expects N argument(s)` unless the count is within [min, max].
  bool count(std::size_t min, std::size_t max);
  void error_at(const Word& w, std::string message, std::string hint = {});
  void error_missing(std::string what, std::string hint = {});
};

using ParseFn = std::optional<ast::Payload> (*)(Args& args);

struct KeywordRow {
  std::string_view path;
  unsigned sections;
  Side side;
  WrongSide wrong_side;
  bool named_defaults_only;  // HAProxy's "(!)": not in an anonymous defaults section
  ast::Support support;
  ParseFn parse;
};

std::span<const KeywordRow> global_keyword_rows();
std::span<const KeywordRow> proxy_keyword_rows();

// Longest row whose path matches the leading words (exact), or nullptr.
const KeywordRow* find_row(std::span<const KeywordRow> rows, std::span<const Word> words,
                           std::size_t& path_words);

// Shared argument parsers, used by several rows.
std::optional<ast::Payload> parse_flag(Args& a);
std::optional<ast::Payload> parse_positive_integer(Args& a);
std::optional<ast::Payload> parse_duration(Args& a);
std::optional<ast::Payload> parse_text(Args& a);
std::optional<ast::Payload> parse_log(Args& a);

// bind / server / default-server settings after the address.
std::optional<std::vector<ast::Setting>> parse_bind_settings(std::span<const Word> words,
                                                             Diagnostics& diags);
std::optional<std::vector<ast::Setting>> parse_server_settings(std::span<const Word> words,
                                                               Diagnostics& diags);

// Splits a rule at its `if`/`unless`; returns the index of that word or words.size().
std::size_t condition_start(std::span<const Word> words);

}  // namespace sluice::parser
