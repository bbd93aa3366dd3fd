// Sample expressions (`req.hdr(host),lower`) and log-format strings (`%[src] %ci`).
// Validates fetch and converter names against what sluice implements.
#pragma once

#include <optional>
#include <string_view>

#include "parser/ast.hpp"

namespace sluice::parser {

enum class SampleType { boolean, integer, ip, string, binary, method };

// Which HTTP message a fetch reads: HAProxy refuses a request-only fetch in a response
// rule's log-format string, and a response fetch in a request rule's.
enum class FetchDirection { any, request, response, both };

// Where a log-format string is evaluated.
enum class FormatContext { any, request, response };

struct FetchInfo {
  std::string_view name;
  std::uint8_t min_args;
  std::uint8_t max_args;
  SampleType type;
  ast::MatchMethod acl_method;  // match implied by ACL-derived names (hdr_beg -> beg)
  std::string_view base;        // the fetch an ACL-derived name stands for (hdr_beg -> hdr)
  FetchDirection direction;
};

// The fetches sluice implements; nullptr if `name` is not one.
const FetchInfo* find_fetch(std::string_view name);

// Parses `text` (located at `loc`) as `fetch[(args)][,conv[(args)]]...`.
std::optional<ast::Sample> parse_sample(std::string_view text, Location loc, Diagnostics& diags);

// Parses a log-format string word: literal text with `%[sample]` and `%alias` items, each
// sample checked against where the string is evaluated.
std::optional<ast::LogFormat> parse_log_format(const Word& word, FormatContext context,
                                               Diagnostics& diags);

}  // namespace sluice::parser
