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
constexpr MatchMethod none = MatchMethod::none;

// Sorted by name. ACL-derived names carry their implied match and the fetch they stand for.
constexpr std::array fetch_table = std::to_array<FetchInfo>({
    {"always_false", 0, 0, T::boolean, none, ""},
    {"always_true", 0, 0, T::boolean, none, ""},
    {"base", 0, 0, T::string, none, ""},
    {"base_beg", 0, 0, T::string, MatchMethod::beg, "base"},
    {"base_dir", 0, 0, T::string, MatchMethod::dir, "base"},
    {"base_dom", 0, 0, T::string, MatchMethod::dom, "base"},
    {"base_end", 0, 0, T::string, MatchMethod::end, "base"},
    {"base_len", 0, 0, T::string, MatchMethod::len, "base"},
    {"base_reg", 0, 0, T::string, MatchMethod::reg, "base"},
    {"base_sub", 0, 0, T::string, MatchMethod::sub, "base"},
    {"dst", 0, 0, T::ip, none, ""},
    {"dst_port", 0, 0, T::integer, none, ""},
    {"hdr", 0, 2, T::string, none, ""},
    {"hdr_beg", 0, 2, T::string, MatchMethod::beg, "hdr"},
    {"hdr_cnt", 0, 1, T::integer, none, ""},
    {"hdr_dir", 0, 2, T::string, MatchMethod::dir, "hdr"},
    {"hdr_dom", 0, 2, T::string, MatchMethod::dom, "hdr"},
    {"hdr_end", 0, 2, T::string, MatchMethod::end, "hdr"},
    {"hdr_len", 0, 2, T::string, MatchMethod::len, "hdr"},
    {"hdr_reg", 0, 2, T::string, MatchMethod::reg, "hdr"},
    {"hdr_sub", 0, 2, T::string, MatchMethod::sub, "hdr"},
    {"method", 0, 0, T::method, none, ""},
    {"nbsrv", 0, 1, T::integer, none, ""},
    {"path", 0, 0, T::string, none, ""},
    {"path_beg", 0, 0, T::string, MatchMethod::beg, "path"},
    {"path_dir", 0, 0, T::string, MatchMethod::dir, "path"},
    {"path_dom", 0, 0, T::string, MatchMethod::dom, "path"},
    {"path_end", 0, 0, T::string, MatchMethod::end, "path"},
    {"path_len", 0, 0, T::string, MatchMethod::len, "path"},
    {"path_reg", 0, 0, T::string, MatchMethod::reg, "path"},
    {"path_sub", 0, 0, T::string, MatchMethod::sub, "path"},
    {"query", 0, 0, T::string, none, ""},
    {"req.hdr", 0, 2, T::string, none, ""},
    {"req.hdr_cnt", 0, 1, T::integer, none, ""},
    {"req.ssl_hello_type", 0, 0, T::integer, none, ""},
    {"req.ssl_sni", 0, 0, T::string, none, ""},
    {"req_ssl_hello_type", 0, 0, T::integer, none, "req.ssl_hello_type"},
    {"req_ssl_sni", 0, 0, T::string, none, "req.ssl_sni"},
    {"res.hdr", 0, 2, T::string, none, ""},
    {"res.hdr_cnt", 0, 1, T::integer, none, ""},
    {"shdr", 0, 2, T::string, none, "res.hdr"},
    {"src", 0, 0, T::ip, none, ""},
    {"src_port", 0, 0, T::integer, none, ""},
    {"ssl_c_i_dn", 0, 3, T::string, none, ""},
    {"ssl_c_notafter", 0, 0, T::string, none, ""},
    {"ssl_c_s_dn", 0, 3, T::string, none, ""},
    {"ssl_c_serial", 0, 0, T::binary, none, ""},
    {"ssl_c_used", 0, 0, T::boolean, none, ""},
    {"ssl_c_verify", 0, 0, T::integer, none, ""},
    {"ssl_fc", 0, 0, T::boolean, none, ""},
    {"ssl_fc_alpn", 0, 0, T::string, none, ""},
    {"ssl_fc_cipher", 0, 0, T::string, none, ""},
    {"ssl_fc_protocol", 0, 0, T::string, none, ""},
    {"ssl_fc_sni", 0, 0, T::string, none, ""},
    {"ssl_fc_sni_end", 0, 0, T::string, MatchMethod::end, "ssl_fc_sni"},
    {"ssl_fc_sni_reg", 0, 0, T::string, MatchMethod::reg, "ssl_fc_sni"},
    {"status", 0, 0, T::integer, none, ""},
    {"url", 0, 0, T::string, none, ""},
    {"url_beg", 0, 0, T::string, MatchMethod::beg, "url"},
    {"url_dir", 0, 0, T::string, MatchMethod::dir, "url"},
    {"url_dom", 0, 0, T::string, MatchMethod::dom, "url"},
    {"url_end", 0, 0, T::string, MatchMethod::end, "url"},
    {"url_len", 0, 0, T::string, MatchMethod::len, "url"},
    {"url_reg", 0, 0, T::string, MatchMethod::reg, "url"},
    {"url_sub", 0, 0, T::string, MatchMethod::sub, "url"},
});

constexpr std::array<std::string_view, 2> converter_names = {"lower", "upper"};

// Log-format aliases from HAProxy's "Custom log format" table (names only).
constexpr std::array<std::string_view, 62> format_aliases = {
    "B",  "CC",  "CS",   "H",    "HM", "HP", "HPO", "HQ",  "HU", "HV", "ID", "ST", "T",
    "TR", "Ta",  "Tc",   "Td",   "Th", "Ti", "Tq",  "Tr",  "Ts", "Tt", "Tu", "Tw", "U",
    "ac", "b",   "bc",   "bi",   "bp", "bq", "ci",  "cp",  "f",  "fc", "fi", "fp", "ft",
    "hr", "hrl", "hs",   "hsl",  "lc", "ms", "pid", "r",   "rc", "rt", "s",  "sc", "si",
    "sp", "sq",  "sslc", "sslv", "t",  "tr", "trg", "trl", "ts", "o"};

struct RawSample {
  std::string fetch;
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::vector<std::string>>> converters;
  bool has_args = false;
};

}  // namespace

const FetchInfo* find_fetch(std::string_view name) {
  auto it = std::lower_bound(fetch_table.begin(), fetch_table.end(), name,
                             [](const FetchInfo& f, std::string_view n) { return f.name < n; });
  return it != fetch_table.end() && it->name == name ? &*it : nullptr;
}

std::optional<ast::Sample> parse_sample(std::string_view text, Location loc, Diagnostics& diags) {
  RawSample raw;
  std::string* name_target = &raw.fetch;
  std::vector<std::string>* args_target = &raw.args;
  auto name_char = [&](auto& ctx) { *name_target += x3::_attr(ctx); };
  auto open_args = [&](auto&) {
    raw.has_args = true;
    args_target->emplace_back();
  };
  auto next_arg = [&](auto&) { args_target->emplace_back(); };
  auto arg_char = [&](auto& ctx) { args_target->back() += x3::_attr(ctx); };
  auto new_converter = [&](auto&) {
    raw.converters.emplace_back();
    name_target = &raw.converters.back().first;
    args_target = &raw.converters.back().second;
  };

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
  loc.length = static_cast<std::uint32_t>(raw.fetch.size());
  const FetchInfo* info = find_fetch(raw.fetch);
  if (info == nullptr) {
    if (vocabulary::contains(vocabulary::fetches(), raw.fetch)) {
      diags.error(
          loc, fmt::format("fetch '{}' is valid HAProxy but not supported by sluice", raw.fetch));
    } else {
      auto hint = closest(raw.fetch, vocabulary::fetches());
      diags.error(loc, fmt::format("unknown fetch method '{}'", raw.fetch),
                  hint ? fmt::format("did you mean '{}'?", *hint) : "");
    }
    return std::nullopt;
  }
  const std::size_t argc = raw.args.size();
  if (argc < info->min_args || argc > info->max_args || (raw.has_args && info->max_args == 0)) {
    diags.error(loc, fmt::format("fetch '{}' expects {} to {} argument(s), got {}", raw.fetch,
                                 info->min_args, info->max_args, argc));
    return std::nullopt;
  }
  ast::Sample sample{raw.fetch, std::move(raw.args), {}, loc};
  for (auto& [name, args] : raw.converters) {
    if (std::find(converter_names.begin(), converter_names.end(), name) == converter_names.end()) {
      if (vocabulary::contains(vocabulary::converters(), name))
        diags.error(
            loc, fmt::format("converter '{}' is valid HAProxy but not supported by sluice", name));
      else
        diags.error(loc, fmt::format("unknown converter '{}'", name), [&] {
          auto hint = closest(name, vocabulary::converters());
          return hint ? fmt::format("did you mean '{}'?", *hint) : std::string();
        }());
      return std::nullopt;
    }
    if (!args.empty()) {
      diags.error(loc, fmt::format("converter '{}' takes no argument", name));
      return std::nullopt;
    }
    sample.converters.push_back({std::move(name), {}});
  }
  return sample;
}

std::optional<ast::LogFormat> parse_log_format(const Word& word, Diagnostics& diags) {
  ast::LogFormat out;
  out.source = word;
  std::string_view text = word.text;
  std::string literal;
  bool ok = true;
  // The word may have lost quotes and escapes, so columns are approximate inside quoted
  // strings; they point at the word itself at worst.
  auto at = [&](std::size_t offset) {
    Location loc = word.loc;
    if (!word.quoted) loc.col += static_cast<std::uint32_t>(offset);
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
        diags.error(at(start), "missing '}' in log-format flags");
        return std::nullopt;
      }
      i = close + 1;
    }
    if (!literal.empty()) out.parts.emplace_back(std::move(literal)), literal.clear();
    if (i < text.size() && text[i] == '[') {
      auto close = text.find(']', i);
      if (close == std::string_view::npos) {
        diags.error(at(start), "missing ']' after '%[' in log-format string",
                    "write %[FETCH,CONVERTER]");
        return std::nullopt;
      }
      auto sample = parse_sample(text.substr(i + 1, close - i - 1), at(i + 1), diags);
      if (!sample)
        ok = false;
      else
        out.parts.emplace_back(std::move(*sample));
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
      diags.error(at(start), fmt::format("unknown log-format alias '%{}'", letters),
                  "write %% for a literal '%', or %[FETCH] for a sample");
      ok = false;
      i = end;
      continue;
    }
    out.parts.emplace_back(ast::FormatAlias{std::string(alias), at(start)});
    i += alias.size();
  }
  if (!literal.empty()) out.parts.emplace_back(std::move(literal));
  if (!ok) return std::nullopt;
  return out;
}

}  // namespace sluice::parser
