// Keyword tables: one row per keyword a section accepts, with its argument parser.
// A HAProxy keyword without a row is reported as "not supported by sluice" (see vocabulary).
#pragma once

#include <cstdint>
#include <initializer_list>
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
  // An integer word within [min, max], or nullopt after reporting why not.
  std::optional<std::int64_t> integer(const Word& w, std::int64_t min, std::int64_t max);
  // Splits off a trailing `if|unless COND` into `cond`; `rest` gets the words before it.
  bool split_condition(std::span<const Word>& rest, std::optional<ast::Condition>& cond);
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

// Whether `no option X` is allowed (HAProxy's "(*)" in its keyword matrix).
bool option_negatable(std::string_view path);

// Longest row whose path matches the leading words (exact), or nullptr.
const KeywordRow* find_row(std::span<const KeywordRow> rows, std::span<const Word> words,
                           std::size_t& path_words);

// Shared argument parsers, used by several rows.
std::optional<ast::Payload> parse_flag(Args& a);
std::optional<ast::Payload> parse_duration(Args& a);
std::optional<ast::Payload> parse_text(Args& a);
std::optional<ast::Payload> parse_log(Args& a);

// `bind ADDRESS[,ADDRESS…] [settings]`, also the shape of the global `stats socket`.
std::optional<ast::Payload> parse_bind_line(Args& a);

// bind / server / default-server settings after the address.
std::optional<std::vector<ast::Setting>> parse_bind_settings(std::span<const Word> words,
                                                             Diagnostics& diags);
std::optional<std::vector<ast::Setting>> parse_server_settings(std::span<const Word> words,
                                                               Diagnostics& diags);

// Splits a rule at its `if`/`unless`; returns the index of that word or words.size().
std::size_t condition_start(std::span<const Word> words);

bool is_one_of(std::string_view word, std::initializer_list<std::string_view> list);

// One integer argument within [Min, Max].
template <std::int64_t Min, std::int64_t Max>
std::optional<ast::Payload> parse_bounded_integer(Args& a) {
  if (!a.count(1, 1)) return std::nullopt;
  auto v = a.integer(a.words[0], Min, Max);
  if (!v) return std::nullopt;
  return ast::Integer{*v};
}

// Rule keywords (keywords_rules.cpp).
std::optional<ast::Payload> parse_http_request_rule(Args& a);
std::optional<ast::Payload> parse_http_response_rule(Args& a);
std::optional<ast::Payload> parse_redirect(Args& a);
std::optional<ast::Payload> parse_tcp_content(Args& a);
std::optional<ast::Payload> parse_tcp_connection(Args& a);
std::optional<ast::Payload> parse_http_check_expect(Args& a);
std::optional<ast::Payload> parse_http_check_send(Args& a);

// `tcp-check` steps (keywords_tcp_check.cpp).
std::optional<ast::Payload> parse_tcp_check_comment(Args& a);
std::optional<ast::Payload> parse_tcp_check_connect(Args& a);
std::optional<ast::Payload> parse_tcp_check_send(Args& a);
std::optional<ast::Payload> parse_tcp_check_send_binary(Args& a);
std::optional<ast::Payload> parse_tcp_check_expect(Args& a);

}  // namespace sluice::parser
