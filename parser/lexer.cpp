// X3 grammar for one configuration line. All the template weight of the lexer lives here.
#include "parser/lexer.hpp"

#include <boost/spirit/home/x3.hpp>
#include <cstdlib>

namespace sluice::parser {

namespace x3 = boost::spirit::x3;

EnvironmentLookup process_environment() {
  return [](std::string_view name) -> std::optional<std::string> {
    std::string key(name);
    if (const char* value = std::getenv(key.c_str())) return std::string(value);
    return std::nullopt;
  };
}

namespace {

// What the semantic actions build while X3 walks one line.
struct LineBuilder {
  const EnvironmentLookup& env;
  std::string current;
  bool in_word = false;
  bool quoted = false;
  bool unterminated = false;
  const char* word_begin = nullptr;
  std::string var_name;
  std::optional<std::string> var_default;
  bool var_list = false;            // `${VAR[*]}`: the value's blank-separated items
  std::vector<std::size_t> splits;  // word boundaries such an expansion put in `current`

  void start(const char* at) {
    if (!in_word) {
      in_word = true;
      word_begin = at;
    }
  }
  void expand() {
    auto value = env(var_name);
    const std::string& text = value ? *value : var_default ? *var_default : std::string();
    if (!var_list) {
      current += text;
    } else {
      std::size_t i = 0;
      bool first_item = true;
      while (i < text.size()) {
        const auto begin = text.find_first_not_of(" \t", i);
        if (begin == std::string::npos) break;
        const auto end = std::min(text.find_first_of(" \t", begin), text.size());
        if (!first_item) splits.push_back(current.size());
        current.append(text, begin, end - begin);
        first_item = false;
        i = end;
      }
    }
    var_name.clear();
    var_default.reset();
    var_list = false;
  }
};

char unescape(char c) {
  switch (c) {
    case 'n':
      return '\n';
    case 'r':
      return '\r';
    case 't':
      return '\t';
    default:
      return c;
  }
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return c - 'A' + 10;
}

// The grammar is built once; semantic actions reach the current line's builder through
// the parse context (x3::with), so no parser object is constructed per line.
struct builder_tag;

LineBuilder& builder(auto& ctx) {
  return x3::get<builder_tag>(ctx).get();
}

namespace grammar {
using x3::char_;
using x3::lit;
const auto at = [](auto& ctx) { builder(ctx).start(&*x3::_where(ctx).begin()); };
const auto append = [](auto& ctx) { builder(ctx).current += x3::_attr(ctx); };
const auto append_escape = [](auto& ctx) { builder(ctx).current += unescape(x3::_attr(ctx)); };
const auto append_hex = [](auto& ctx) {
  auto& digits = x3::_attr(ctx);
  builder(ctx).current += static_cast<char>(hex_value(boost::fusion::at_c<0>(digits)) * 16 +
                                            hex_value(boost::fusion::at_c<1>(digits)));
};
const auto mark_quoted = [](auto& ctx) { builder(ctx).quoted = true; };
const auto mark_unterminated = [](auto& ctx) { builder(ctx).unterminated = true; };
const auto name_char = [](auto& ctx) { builder(ctx).var_name += x3::_attr(ctx); };
const auto default_char = [](auto& ctx) { *builder(ctx).var_default += x3::_attr(ctx); };
const auto begin_default = [](auto& ctx) { builder(ctx).var_default.emplace(); };
const auto mark_list = [](auto& ctx) { builder(ctx).var_list = true; };
const auto expand = [](auto& ctx) { builder(ctx).expand(); };
const auto dollar = [](auto& ctx) {
  builder(ctx).var_name.clear();  // what a partial `${` match collected
  builder(ctx).current += '$';
};

const auto ident_char = char_("a-zA-Z0-9_");
const auto backslash = [](auto& ctx) { builder(ctx).current += '\\'; };
// HAProxy's escapes; any other backslash stays as written, with what follows it (a
// regex's `\d`, a back-reference's `\1`). `\$` escapes only inside double quotes, where
// variables expand.
const auto hex_escape = (lit('x') >> (x3::xdigit >> x3::xdigit))[append_hex];
const auto escape = lit('\\') >> (hex_escape | char_("nrt")[append_escape] |
                                  char_(" \\#'\"")[append] | x3::eps[backslash]);
const auto quoted_escape = lit('\\') >> (hex_escape | char_("nrt")[append_escape] |
                                         char_(" \\#'\"$")[append] | x3::eps[backslash]);
// A leading dot names a pseudo-variable (`.FILE`, `.LINE`, `.SECTION`).
const auto braced_var = lit("${") >> -(char_('.')[name_char]) >> +(ident_char[name_char]) >>
                        -(lit("[*]")[mark_list]) >>
                        -(lit('-')[begin_default] >> *((char_ - '}')[default_char])) >>
                        (lit('}') | (*(char_ - '}') >> lit('}')));
const auto bare_var = lit('$') >> char_("a-zA-Z_.")[name_char] >> *(ident_char[name_char]);
const auto variable = (braced_var | bare_var)[expand] | lit('$')[dollar];
const auto double_quoted = lit('"')[mark_quoted] >>
                           *(quoted_escape | variable | (char_ - '"' - '\\' - '$')[append]) >>
                           (lit('"') | x3::eoi[mark_unterminated]);
const auto single_quoted = lit('\'')[mark_quoted] >> *((char_ - '\'')[append]) >>
                           (lit('\'') | x3::eoi[mark_unterminated]);
const auto blank_char = char_(" \t\r\f\v");
const auto plain = (char_ - blank_char - '"' - '\'' - '\\' - '#')[append];
const auto piece = x3::eps[at] >> (double_quoted | single_quoted | escape | plain);
const auto blank = +blank_char;
const auto comment = lit('#') >> *char_;
}  // namespace grammar

}  // namespace

Line lex_line(std::string_view text, std::uint32_t file, std::uint32_t number,
              const EnvironmentLookup& env, Diagnostics& diags, Comments comments) {
  Line line{number, {}};
  LineBuilder b{env, {}, false, false, false, nullptr, {}, {}, false, {}};
  const char* const line_begin = text.data();

  auto finish_word = [&](const char* end) {
    if (!b.in_word) return;
    const auto col = static_cast<std::uint32_t>(b.word_begin - line_begin) + 1;
    const auto len = static_cast<std::uint32_t>(end - b.word_begin);
    const Location loc{file, number, col, len ? len : 1};
    // A `${VAR[*]}` expansion made several words out of this one source word.
    std::size_t from = 0;
    for (std::size_t split : b.splits) {
      line.words.push_back({b.current.substr(from, split - from), loc, b.quoted});
      from = split;
    }
    b.splits.clear();
    line.words.push_back({from ? b.current.substr(from) : std::move(b.current), loc, b.quoted});
    b.current.clear();
    b.in_word = false;
    b.quoted = false;
  };

  const auto with_builder = [&](const auto& parser) {
    return x3::with<builder_tag>(std::ref(b))[parser];
  };
  const auto blank = with_builder(grammar::blank);
  const auto comment = with_builder(grammar::comment);
  const auto piece = with_builder(grammar::piece);

  const char* first = text.data();
  const char* const last = text.data() + text.size();
  while (first != last) {
    const char* const word_end = first;
    if (x3::parse(first, last, blank)) {
      finish_word(word_end);
      continue;
    }
    if (*first == '#' && comments == Comments::are_text) {
      b.start(first);
      b.current += *first++;
      continue;
    }
    if (x3::parse(first, last, comment)) {
      first = word_end;  // the word, if any, ends where the comment starts
      break;
    }
    if (!x3::parse(first, last, piece)) ++first;  // unreachable: every byte starts a piece
    if (b.unterminated) {
      const auto col = static_cast<std::uint32_t>(b.word_begin - line_begin) + 1;
      diags.error({file, number, col, static_cast<std::uint32_t>(last - b.word_begin)},
                  "unmatched quote", "close the quoted string on the same line");
      b.unterminated = false;
    }
  }
  finish_word(first);
  return line;
}

}  // namespace sluice::parser
