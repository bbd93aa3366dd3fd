// X3 grammar for sample expressions; fetch and converter tables of what sluice implements.
#include "parser/sample.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <boost/spirit/home/x3.hpp>

#include "parser/suggest.hpp"
#include "parser/vocabulary.hpp"

namespace sluice::parser {

namespace x3 = boost::spirit::x3;
using ast::MatchMethod;

namespace {

using T = SampleType;
using D = FetchDirection;
constexpr MatchMethod none = MatchMethod::none;

// Sorted by name. ACL-derived names carry their implied match and the fetch they stand for.
constexpr std::array fetch_table = std::to_array<FetchInfo>({
    {"always_false", 0, 0, T::boolean, none, "", D::any},
    {"always_true", 0, 0, T::boolean, none, "", D::any},
    {"base", 0, 0, T::string, none, "", D::request},
    {"base_beg", 0, 0, T::string, MatchMethod::beg, "base", D::request},
    {"base_dir", 0, 0, T::string, MatchMethod::dir, "base", D::request},
    {"base_dom", 0, 0, T::string, MatchMethod::dom, "base", D::request},
    {"base_end", 0, 0, T::string, MatchMethod::end, "base", D::request},
    {"base_len", 0, 0, T::string, MatchMethod::len, "base", D::request},
    {"base_reg", 0, 0, T::string, MatchMethod::reg, "base", D::request},
    {"base_sub", 0, 0, T::string, MatchMethod::sub, "base", D::request},
    {"dst", 0, 0, T::ip, none, "", D::any},
    {"dst_port", 0, 0, T::integer, none, "", D::any},
    {"hdr", 0, 2, T::string, none, "", D::both},
    {"hdr_beg", 0, 2, T::string, MatchMethod::beg, "hdr", D::both},
    {"hdr_cnt", 0, 1, T::integer, none, "", D::request},
    {"hdr_dir", 0, 2, T::string, MatchMethod::dir, "hdr", D::both},
    {"hdr_dom", 0, 2, T::string, MatchMethod::dom, "hdr", D::both},
    {"hdr_end", 0, 2, T::string, MatchMethod::end, "hdr", D::both},
    {"hdr_len", 0, 2, T::string, MatchMethod::len, "hdr", D::both},
    {"hdr_reg", 0, 2, T::string, MatchMethod::reg, "hdr", D::both},
    {"hdr_sub", 0, 2, T::string, MatchMethod::sub, "hdr", D::both},
    {"method", 0, 0, T::method, none, "", D::any},
    {"nbsrv", 0, 1, T::integer, none, "", D::any},
    {"path", 0, 0, T::string, none, "", D::request},
    {"path_beg", 0, 0, T::string, MatchMethod::beg, "path", D::request},
    {"path_dir", 0, 0, T::string, MatchMethod::dir, "path", D::request},
    {"path_dom", 0, 0, T::string, MatchMethod::dom, "path", D::request},
    {"path_end", 0, 0, T::string, MatchMethod::end, "path", D::request},
    {"path_len", 0, 0, T::string, MatchMethod::len, "path", D::request},
    {"path_reg", 0, 0, T::string, MatchMethod::reg, "path", D::request},
    {"path_sub", 0, 0, T::string, MatchMethod::sub, "path", D::request},
    {"query", 0, 0, T::string, none, "", D::request},
    {"req.hdr", 0, 2, T::string, none, "", D::request},
    {"req.hdr_cnt", 0, 1, T::integer, none, "", D::request},
    {"req.ssl_hello_type", 0, 0, T::integer, none, "", D::request},
    {"req.ssl_sni", 0, 0, T::string, none, "", D::request},
    {"req_ssl_hello_type", 0, 0, T::integer, none, "req.ssl_hello_type", D::request},
    {"req_ssl_sni", 0, 0, T::string, none, "req.ssl_sni", D::request},
    {"res.hdr", 0, 2, T::string, none, "", D::response},
    {"res.hdr_cnt", 0, 1, T::integer, none, "", D::response},
    {"shdr", 0, 2, T::string, none, "res.hdr", D::response},
    {"src", 0, 0, T::ip, none, "", D::any},
    {"src_port", 0, 0, T::integer, none, "", D::any},
    {"ssl_c_i_dn", 0, 3, T::string, none, "", D::any},
    {"ssl_c_notafter", 0, 0, T::string, none, "", D::any},
    {"ssl_c_s_dn", 0, 3, T::string, none, "", D::any},
    {"ssl_c_serial", 0, 0, T::binary, none, "", D::any},
    {"ssl_c_used", 0, 0, T::boolean, none, "", D::any},
    {"ssl_c_verify", 0, 0, T::integer, none, "", D::any},
    {"ssl_fc", 0, 0, T::boolean, none, "", D::any},
    {"ssl_fc_alpn", 0, 0, T::string, none, "", D::any},
    {"ssl_fc_cipher", 0, 0, T::string, none, "", D::any},
    {"ssl_fc_protocol", 0, 0, T::string, none, "", D::any},
    {"ssl_fc_sni", 0, 0, T::string, none, "", D::any},
    {"ssl_fc_sni_end", 0, 0, T::string, MatchMethod::end, "ssl_fc_sni", D::any},
    {"ssl_fc_sni_reg", 0, 0, T::string, MatchMethod::reg, "ssl_fc_sni", D::any},
    {"status", 0, 0, T::integer, none, "", D::response},
    {"str", 1, 1, T::string, none, "", D::any},
    {"url", 0, 0, T::string, none, "", D::request},
    {"url_beg", 0, 0, T::string, MatchMethod::beg, "url", D::request},
    {"url_dir", 0, 0, T::string, MatchMethod::dir, "url", D::request},
    {"url_dom", 0, 0, T::string, MatchMethod::dom, "url", D::request},
    {"url_end", 0, 0, T::string, MatchMethod::end, "url", D::request},
    {"url_len", 0, 0, T::string, MatchMethod::len, "url", D::request},
    {"url_reg", 0, 0, T::string, MatchMethod::reg, "url", D::request},
    {"url_sub", 0, 0, T::string, MatchMethod::sub, "url", D::request},
});

static_assert(std::is_sorted(fetch_table.begin(), fetch_table.end(),
                             [](const FetchInfo& a, const FetchInfo& b) {
                               return a.name < b.name;
                             }),
              "find_fetch() binary-searches fetch_table");

constexpr std::array<std::string_view, 2> converter_names = {"lower", "upper"};

// Log-format aliases from HAProxy's "Custom log format" table (names only).
constexpr std::array<std::string_view, 62> format_aliases = {
    "B",  "CC",  "CS",   "H",    "HM", "HP", "HPO", "HQ",  "HU", "HV", "ID", "ST", "T",
    "TR", "Ta",  "Tc",   "Td",   "Th", "Ti", "Tq",  "Tr",  "Ts", "Tt", "Tu", "Tw", "U",
    "ac", "b",   "bc",   "bi",   "bp", "bq", "ci",  "cp",  "f",  "fc", "fi", "fp", "ft",
    "hr", "hrl", "hs",   "hsl",  "lc", "ms", "pid", "r",   "rc", "rt", "s",  "sc", "si",
    "sp", "sq",  "sslc", "sslv", "t",  "tr", "trg", "trl", "ts", "o"};

// A name with its parenthesised arguments, as written; `parens` tells `f()` from `f`.
struct RawCall {
  std::string name;
  std::vector<std::string> args;
  bool parens = false;
};

struct RawSample {
  RawCall fetch;
  std::vector<RawCall> converters;
};

std::string argument_count_error(std::string_view what, const RawCall& call, std::size_t min_args,
                                 std::size_t max_args) {
  if (max_args == 0) return fmt::format("{} '{}' takes no argument", what, call.name);
  if (call.args.size() < min_args)
    return fmt::format("{} '{}' expects at least {} argument(s), got {}", what, call.name, min_args,
                       call.args.size());
  return fmt::format("{} '{}' expects at most {} argument(s), got {}", what, call.name, max_args,
                     call.args.size());
}

}  // namespace

const FetchInfo* find_fetch(std::string_view name) {
  auto it = std::lower_bound(fetch_table.begin(), fetch_table.end(), name,
                             [](const FetchInfo& f, std::string_view n) { return f.name < n; });
  return it != fetch_table.end() && it->name == name ? &*it : nullptr;
}

std::optional<ast::Sample> parse_sample(std::string_view text, Location loc, Diagnostics& diags) {
  RawSample raw;
  RawCall* target = &raw.fetch;
  auto name_char = [&](auto& ctx) { target->name += x3::_attr(ctx); };
  auto open_args = [&](auto&) {
    target->parens = true;
    target->args.emplace_back();
  };
  auto next_arg = [&](auto&) { target->args.emplace_back(); };
  auto arg_char = [&](auto& ctx) { target->args.back() += x3::_attr(ctx); };
  auto new_converter = [&](auto&) { target = &raw.converters.emplace_back(); };

  const auto ident = +(x3::char_("a-zA-Z0-9._-")[name_char]);
  const auto arg_text = *((x3::char_ - x3::char_(",)"))[arg_char]);
  const auto arg_list =
      x3::lit('(')[open_args] >> arg_text >> *(x3::lit(',')[next_arg] >> arg_text) >> x3::lit(')');
  const auto converter = x3::lit(',')[new_converter] >> ident >> -(arg_list);
  const auto grammar = ident >> -(arg_list) >> *converter;

  auto first = text.begin();
  const bool ok = x3::parse(first, text.end(), grammar) && first == text.end();
  if (!ok) {
    Location at = loc;
    at.col += static_cast<std::uint32_t>(first - text.begin());
    at.length = 1;
    diags.error(at, fmt::format("invalid sample expression '{}'", text),
                "write FETCH[(ARGS)][,CONVERTER[(ARGS)]]...");
    return std::nullopt;
  }
  loc.length = static_cast<std::uint32_t>(raw.fetch.name.size());
  const std::string& fetch = raw.fetch.name;
  const FetchInfo* info = find_fetch(fetch);
  if (info == nullptr) {
    if (vocabulary::contains(vocabulary::fetches(), fetch)) {
      diags.error(loc,
                  fmt::format("fetch '{}' is valid HAProxy but not supported by sluice", fetch));
    } else {
      diags.error(loc, fmt::format("unknown fetch method '{}'", fetch),
                  did_you_mean(fetch, vocabulary::fetches()));
    }
    return std::nullopt;
  }
  const std::size_t argc = raw.fetch.args.size();
  if (argc < info->min_args || argc > info->max_args || (raw.fetch.parens && info->max_args == 0)) {
    diags.error(loc, argument_count_error("fetch", raw.fetch, info->min_args, info->max_args));
    return std::nullopt;
  }
  ast::Sample sample{fetch, std::move(raw.fetch.args), {}, loc};
  for (auto& converter : raw.converters) {
    const std::string& name = converter.name;
    if (std::find(converter_names.begin(), converter_names.end(), name) == converter_names.end()) {
      if (vocabulary::contains(vocabulary::converters(), name))
        diags.error(
            loc, fmt::format("converter '{}' is valid HAProxy but not supported by sluice", name));
      else
        diags.error(loc, fmt::format("unknown converter '{}'", name),
                    did_you_mean(name, vocabulary::converters()));
      return std::nullopt;
    }
    if (converter.parens) {
      diags.error(loc, argument_count_error("converter", converter, 0, 0));
      return std::nullopt;
    }
    sample.converters.push_back({name, {}});
  }
  return sample;
}

namespace {

// HAProxy refuses, in a log-format string, a fetch reading the other HTTP message.
bool fits(const FetchInfo& fetch, FormatContext context) {
  if (context == FormatContext::request) return fetch.direction != FetchDirection::response;
  if (context == FormatContext::response) return fetch.direction != FetchDirection::request;
  return true;
}

}  // namespace

std::optional<ast::LogFormat> parse_log_format(const Word& word, FormatContext context,
                                               Diagnostics& diags) {
  ast::LogFormat out;
  out.source = word;
  std::string_view text = word.text;
  std::string literal;
  bool ok = true;
  // The word may have lost quotes and escapes, so columns are approximate inside quoted
  // strings; they point at the word itself at worst.
  auto at = [&](std::size_t offset, std::size_t length) {
    Location loc = word.loc;
    if (!word.quoted) {
      loc.col += static_cast<std::uint32_t>(offset);
      loc.length = static_cast<std::uint32_t>(std::max<std::size_t>(length, 1));
    }
    return loc;
  };
  std::size_t i = 0;
  while (i < text.size()) {
    char c = text[i];
    if (c != '%') {
      literal += c;
      ++i;
      continue;
    }
    if (i + 1 < text.size() && text[i + 1] == '%') {
      literal += '%';
      i += 2;
      continue;
    }
    std::size_t start = i++;
    if (i < text.size() && text[i] == '{') {  // `%{+Q}` flags: accepted, no effect on syntax
      auto close = text.find('}', i);
      if (close == std::string_view::npos) {
        diags.error(at(start, text.size() - start), "missing '}' in log-format flags");
        return std::nullopt;
      }
      i = close + 1;
    }
    if (!literal.empty()) out.parts.emplace_back(std::move(literal)), literal.clear();
    if (i < text.size() && text[i] == '[') {
      auto close = text.find(']', i);
      if (close == std::string_view::npos) {
        diags.error(at(start, text.size() - start), "missing ']' after '%[' in log-format string",
                    "write %[FETCH,CONVERTER]");
        return std::nullopt;
      }
      auto sample =
          parse_sample(text.substr(i + 1, close - i - 1), at(i + 1, close - i - 1), diags);
      if (!sample) {
        ok = false;
      } else if (!fits(*find_fetch(sample->fetch), context)) {
        diags.error(
            sample->loc,
            fmt::format("fetch '{}' reads the HTTP {}, which a {} rule does not have",
                        sample->fetch, context == FormatContext::request ? "response" : "request",
                        context == FormatContext::request ? "request" : "response"),
            context == FormatContext::request ? "read it in an 'http-response' rule instead" : "");
        ok = false;
      } else {
        out.parts.emplace_back(std::move(*sample));
      }
      i = close + 1;
      continue;
    }
    std::size_t end = i;
    while (end < text.size() && std::isalpha(static_cast<unsigned char>(text[end])))
      ++end;
    // Longest alias that prefixes the letters (`%Tq` before `%T`).
    std::string_view letters = text.substr(i, end - i);
    std::string_view alias;
    for (auto candidate : format_aliases)
      if (letters.starts_with(candidate) && candidate.size() > alias.size()) alias = candidate;
    if (alias.empty()) {
      diags.error(at(start, end - start), fmt::format("unknown log-format alias '%{}'", letters),
                  "write %% for a literal '%', or %[FETCH] for a sample");
      ok = false;
      i = end;
      continue;
    }
    out.parts.emplace_back(ast::FormatAlias{std::string(alias), at(start, alias.size() + 1)});
    i += alias.size();
  }
  if (!literal.empty()) out.parts.emplace_back(std::move(literal));
  if (!ok) return std::nullopt;
  return out;
}

}  // namespace sluice::parser
