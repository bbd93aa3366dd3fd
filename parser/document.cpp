#include "parser/document.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include "parser/directive_condition.hpp"
#include "parser/keywords.hpp"
#include "parser/suggest.hpp"
#include "parser/vocabulary.hpp"

namespace sluice::parser {

namespace ast {
const char* section_word(SectionKind kind) {
  switch (kind) {
    case SectionKind::global:
      return "global";
    case SectionKind::defaults:
      return "defaults";
    case SectionKind::frontend:
      return "frontend";
    case SectionKind::backend:
      return "backend";
    case SectionKind::listen:
      return "listen";
  }
  return "global";
}
}  // namespace ast

namespace {

std::optional<ast::SectionKind> section_kind(std::string_view word) {
  if (word == "global") return ast::SectionKind::global;
  if (word == "defaults") return ast::SectionKind::defaults;
  if (word == "frontend") return ast::SectionKind::frontend;
  if (word == "backend") return ast::SectionKind::backend;
  if (word == "listen") return ast::SectionKind::listen;
  return std::nullopt;
}

bool has_frontend_side(ast::SectionKind k) {
  return k == ast::SectionKind::frontend || k == ast::SectionKind::listen ||
         k == ast::SectionKind::defaults;
}
bool has_backend_side(ast::SectionKind k) {
  return k == ast::SectionKind::backend || k == ast::SectionKind::listen ||
         k == ast::SectionKind::defaults;
}

constexpr std::string_view section_names[] = {"backend", "defaults", "frontend", "global",
                                              "listen"};

class FileParser {
 public:
  FileParser(ast::Document& doc, Diagnostics& diags, const ParseOptions& options)
      : doc_(doc), diags_(diags), options_(options) {}

  void line(const Line& line) {
    const auto& words = line.words;
    if (!words[0].quoted && words[0].text.starts_with('.')) {
      directive(words);
      return;
    }
    if (!reading()) return;  // inside a block whose condition is false
    if (auto kind = section_kind(words[0].text); kind && !words[0].quoted) {
      open_section(*kind, words);
      return;
    }
    if (vocabulary::contains(vocabulary::other_sections(), words[0].text)) {
      diags_.error(
          words[0].loc,
          fmt::format("section '{}' is valid HAProxy but not supported by sluice", words[0].text),
          "sluice supports global, defaults, frontend, backend and listen sections");
      current_ = nullptr;
      skipping_ = true;
      section_name_ = words.size() > 1 ? words[1].text : words[0].text;
      return;
    }
    if (skipping_) return;  // inside an unsupported section: its error was already given
    if (current_ == nullptr) {
      diags_.error(words[0].loc, fmt::format("unknown keyword '{}' out of section", words[0].text),
                   "start a section first: global, defaults, frontend, backend or listen");
      return;
    }
    statement(words);
  }

 private:
  void open_section(ast::SectionKind kind, const std::vector<Word>& words) {
    skipping_ = false;
    ast::Section section;
    section.kind = kind;
    section.loc = words[0].loc;
    std::size_t i = 1;
    const bool needs_name = kind != ast::SectionKind::global && kind != ast::SectionKind::defaults;
    if (kind == ast::SectionKind::global) {
      if (words.size() > 1) diags_.error(words[1].loc, "'global' takes no argument");
      i = words.size();
    } else if (i < words.size() && words[i].text != "from") {
      section.name = words[i++];
    } else if (needs_name) {
      diags_.error(words[0].loc, fmt::format("'{}' needs a name", words[0].text),
                   fmt::format("write '{} NAME'", words[0].text));
    }
    if (kind == ast::SectionKind::listen && i < words.size() && words[i].text != "from") {
      // HAProxy 2.6 refuses the old `listen NAME ADDR` form; so do we, with the fix.
      diags_.error(words[i].loc, "please use the 'bind' keyword for listening addresses",
                   fmt::format("write 'bind {}' on the next line", words[i].text));
      ++i;
    }
    if (kind != ast::SectionKind::global && i < words.size() && words[i].text == "from") {
      if (i + 1 < words.size()) {
        section.from = words[i + 1];
        i += 2;
      } else {
        diags_.error(words[i].loc, "'from' needs the name of a defaults section");
        ++i;
      }
    }
    if (i < words.size())
      diags_.error(words[i].loc, fmt::format("unexpected '{}' after the '{}' section header",
                                             words[i].text, words[0].text));
    section_name_ = section.name ? section.name->text : words[0].text;
    doc_.sections.push_back(std::move(section));
    current_ = &doc_.sections.back();
  }

  void statement(const std::vector<Word>& all) {
    std::span<const Word> words(all);
    const bool global = current_->kind == ast::SectionKind::global;
    bool negated = false;
    if (!global && words.size() > 1 && (words[0].text == "no" || words[0].text == "default")) {
      if (words[0].text == "default") {
        diags_.error(words[0].loc, "'default' prefix is valid HAProxy but not supported by sluice",
                     "remove the line: sluice sections start from their defaults already");
        return;
      }
      negated = true;
      words = words.subspan(1);
    }
    std::size_t path_words = 0;
    auto rows = global ? global_keyword_rows() : proxy_keyword_rows();
    const KeywordRow* row = find_row(rows, words, path_words);
    if (row == nullptr) {
      unknown(words);
      return;
    }
    if (!allowed_here(*row, words[0])) return;
    if (negated && !(row->path.starts_with("option ") || row->path == "log")) {
      diags_.error(all[0].loc, fmt::format("'no' cannot prefix '{}'", row->path),
                   "only 'option' keywords and 'log' take 'no'");
      return;
    }
    if (negated && row->path.starts_with("option ") && !option_negatable(row->path)) {
      diags_.error(all[0].loc, fmt::format("negation is not supported for '{}'", row->path),
                   "remove the line: this option is off unless a section turns it on");
      return;
    }
    Location end = words.back().loc;
    end.col += end.length;
    end.length = 1;
    Args args{words[0], row->path, words.subspan(path_words), diags_, end};
    auto payload = row->parse(args);
    if (!payload) {
      ++current_->rejected_statements;
      return;
    }
    if (negated) {
      if (auto* option = std::get_if<ast::Option>(&*payload)) option->negated = true;
      if (auto* log = std::get_if<ast::Log>(&*payload)) log->disable = true;
    }
    current_->statements.push_back(
        ast::Statement{row->path, all[0].loc, row->support, std::move(*payload)});
  }

  // HAProxy's placement rules: "not allowed in defaults" and "(!)" are errors; a keyword for
  // the other side of a proxy is ignored with a warning, or refused for server lines.
  bool allowed_here(const KeywordRow& row, const Word& first) {
    const auto kind = current_->kind;
    if ((row.sections & section_bit(kind)) == 0 && kind == ast::SectionKind::defaults) {
      diags_.error(first.loc, fmt::format("'{}' not allowed in 'defaults' section", row.path));
      return false;
    }
    if (kind == ast::SectionKind::defaults && row.named_defaults_only && !current_->name) {
      diags_.error(first.loc,
                   fmt::format("'{}' not allowed in anonymous 'defaults' section", row.path),
                   "name the defaults section, as in 'defaults web'");
      return false;
    }
    const bool wrong_side = (row.side == Side::frontend && !has_frontend_side(kind)) ||
                            (row.side == Side::backend && !has_backend_side(kind));
    if (!wrong_side) return true;
    const char* missing = row.side == Side::frontend ? "frontend" : "backend";
    const std::string proxy =
        fmt::format("{} '{}'", ast::section_word(kind), current_->name ? current_->name->text : "");
    if (row.wrong_side == WrongSide::error) {
      diags_.error(
          first.loc,
          fmt::format("'{}' not allowed because {} has no {} capability", row.path, proxy, missing),
          row.side == Side::backend ? "servers belong in a backend or listen section" : "");
    } else {
      diags_.warning(first.loc, fmt::format("'{}' ignored because {} has no {} capability",
                                            row.path, proxy, missing));
    }
    return false;
  }

  // HAProxy's `.if/.elif/.else/.endif` and `.diag/.notice/.warning/.alert` lines. A
  // condition is evaluated only where its value matters: not inside a block that is
  // skipped, not after a branch was taken (as HAProxy).
  void directive(const std::vector<Word>& words) {
    const std::string& name = words[0].text;
    if (name == ".if" || name == ".elif" || name == ".else" || name == ".endif") {
      block_directive(words);
      return;
    }
    if (!reading()) return;
    const bool message =
        name == ".alert" || name == ".warning" || name == ".notice" || name == ".diag";
    if (!message) {
      diags_.error(words[0].loc, fmt::format("unknown directive '{}'", name),
                   "directives: .if .elif .else .endif .diag .notice .warning .alert");
      return;
    }
    if (words.size() > 2) {
      diags_.error(words[2].loc,
                   fmt::format("unexpected argument '{}' for '{}'", words[2].text, name),
                   "quote the message if it contains spaces");
      return;
    }
    const std::string text = words.size() > 1 ? words[1].text : std::string();
    if (name == ".alert")
      diags_.error(words[0].loc, text);
    else if (name == ".warning")
      diags_.warning(words[0].loc, text);
    else if (name == ".notice" || options_.diagnostic_mode)
      diags_.note(words[0].loc, text);
  }

  void block_directive(const std::vector<Word>& words) {
    const std::string& name = words[0].text;
    if (name == ".if") {
      const bool enclosing = reading();
      const bool value = enclosing && condition(words);
      blocks_.push_back({words[0].loc, value, !enclosing || value, false});
      return;
    }
    if (blocks_.empty()) {
      diags_.error(words[0].loc, fmt::format("lone '{}' with no matching '.if'", name));
      return;
    }
    Block& block = blocks_.back();
    if (name == ".endif") {
      blocks_.pop_back();
      return;
    }
    if (block.in_else) {
      diags_.error(words[0].loc, fmt::format("'{}' after '.else' is not permitted", name),
                   "a block has one '.else', after its '.if' and '.elif' lines");
      return;
    }
    if (name == ".else") {
      block.in_else = true;
      block.reading = !block.decided;
      block.decided = true;
      return;
    }
    block.reading = !block.decided && condition(words);
    block.decided = block.decided || block.reading;
  }

  // The words after `.if`/`.elif` joined by one space, as HAProxy re-merges them.
  bool condition(const std::vector<Word>& words) {
    std::string text;
    for (std::size_t i = 1; i < words.size(); ++i) {
      if (i > 1) text += ' ';
      text += words[i].text;
    }
    auto result = evaluate_directive_condition(text, options_.env, options_.build);
    if (auto* value = std::get_if<bool>(&result)) return *value;
    const auto& error = std::get<ConditionError>(result);
    // Point at the word holding the offset (a word's text may differ from its source).
    std::size_t offset = error.offset;
    std::size_t i = 1;
    while (i + 1 < words.size() && offset > words[i].text.size())
      offset -= words[i++].text.size() + 1;
    Location at = words[0].loc;
    if (i < words.size()) {
      at = words[i].loc;
      at.col += static_cast<std::uint32_t>(std::min<std::size_t>(offset, at.length - 1));
      at.length = 1;
    }
    diags_.error(at, fmt::format("{} in '{}'", error.message, words[0].text));
    return false;
  }

  bool reading() const { return blocks_.empty() || blocks_.back().reading; }

 public:
  // Called at the end of the file: an `.if` must close in the file that opened it.
  void finish() {
    for (const Block& block : blocks_)
      diags_.error(block.opened, "non-terminated '.if' block",
                   "close it with '.endif' in the same file");
  }

  // `.FILE`, `.LINE`, `.SECTION` (configuration.txt 2.3); nullopt for any other name.
  std::optional<std::string> pseudo_variable(std::string_view name, const std::string& file,
                                             std::uint32_t line) const {
    if (name == ".FILE") return file;
    if (name == ".LINE") return std::to_string(line);
    if (name == ".SECTION") return section_name_;
    return std::nullopt;
  }

 private:
  // Keywords whose second word selects the statement (`tcp-request content`).
  struct Family {
    std::string_view first;
    std::initializer_list<std::string_view> seconds;
  };
  static const Family* family_of(std::string_view first) {
    static const Family families[] = {
        {"capture", {"cookie", "request", "response"}},
        {"email-alert", {"from", "level", "mailers", "myhostname", "to"}},
        {"external-check", {"command", "path"}},
        {"http-check",
         {"comment", "connect", "disable-on-404", "expect", "send", "send-state", "set-var",
          "unset-var"}},
        {"stats",
         {"admin", "auth", "bind-process", "enable", "hide-version", "http-request", "realm",
          "refresh", "scope", "show-desc", "show-legends", "show-modules", "show-node", "uri"}},
        {"stick", {"match", "on", "store-request", "store-response"}},
        {"tcp-check",
         {"comment", "connect", "expect", "send", "send-binary", "send-binary-lf", "send-lf",
          "set-var", "unset-var"}},
        {"tcp-request", {"connection", "content", "inspect-delay", "session"}},
        {"tcp-response", {"content", "inspect-delay"}},
    };
    for (const auto& family : families)
      if (family.first == first) return &family;
    return nullptr;
  }

  // An unknown second word of a family is an unknown keyword, not an unsupported one.
  bool unknown_subkeyword(std::span<const Word> words) {
    const Family* family = family_of(words[0].text);
    if (!family) return false;
    std::vector<std::string_view> seconds(family->seconds);
    if (words.size() < 2) {
      diags_.error(words[0].loc,
                   fmt::format("'{}' expects one of: {}", family->first, fmt::join(seconds, ", ")));
      return true;
    }
    if (std::find(seconds.begin(), seconds.end(), words[1].text) != seconds.end()) return false;
    diags_.error(
        words[1].loc, fmt::format("unknown keyword '{} {}'", family->first, words[1].text),
        did_you_mean(words[1].text, seconds,
                     fmt::format("'{}' takes: {}", family->first, fmt::join(seconds, ", "))));
    return true;
  }

  void unknown(std::span<const Word> words) {
    const Word& first = words[0];
    const bool global = current_->kind == ast::SectionKind::global;
    const char* section = ast::section_word(current_->kind);
    if (!global && words.size() == 1 && (first.text == "option" || first.text == "timeout")) {
      diags_.error(first.loc,
                   fmt::format("'{}' expects the name of the {} to set", first.text, first.text));
      return;
    }
    if (!global && unknown_subkeyword(words)) return;
    // Sub-keywords: `option X` and `timeout X` name their second word.
    if (!global && (first.text == "option" || first.text == "timeout") && words.size() > 1) {
      const Word& second = words[1];
      auto names =
          first.text == "option" ? vocabulary::proxy_options() : vocabulary::proxy_timeouts();
      if (vocabulary::contains(names, second.text)) {
        diags_.error(second.loc, fmt::format("'{} {}' is valid HAProxy but not supported by sluice",
                                             first.text, second.text));
      } else {
        auto hint = closest(second.text, names);
        diags_.error(
            second.loc,
            fmt::format("unknown {} '{}' in '{}' section", first.text, second.text, section),
            hint ? fmt::format("did you mean '{} {}'?", first.text, *hint) : std::string());
      }
      return;
    }
    if (!global && words.size() > 1 && family_of(first.text)) {
      // A known second word (unknown ones were reported above): name the statement whole.
      diags_.error(words[1].loc, fmt::format("'{} {}' is valid HAProxy but not supported by sluice",
                                             first.text, words[1].text));
      return;
    }
    auto known = global ? vocabulary::global_keywords() : vocabulary::proxy_keywords();
    if (vocabulary::contains(known, first.text)) {
      diags_.error(first.loc,
                   fmt::format("'{}' is valid HAProxy but not supported by sluice", first.text));
      return;
    }
    if (!global && vocabulary::contains(vocabulary::global_keywords(), first.text)) {
      diags_.error(first.loc,
                   fmt::format("unknown keyword '{}' in '{}' section", first.text, section),
                   fmt::format("'{}' belongs in the 'global' section", first.text));
      return;
    }
    diags_.error(first.loc,
                 fmt::format("unknown keyword '{}' in '{}' section", first.text, section),
                 did_you_mean(first.text, known, did_you_mean(first.text, section_names)));
  }

  ast::Document& doc_;
  Diagnostics& diags_;
  ast::Section* current_ = nullptr;
  bool skipping_ = false;
  const ParseOptions& options_;
  std::string section_name_;  // `.SECTION`: the name, else the kind, of the current section
  struct Block {
    Location opened;
    bool reading = false;  // the current branch's lines are read
    bool decided = false;  // a branch was taken, or the enclosing lines are skipped
    bool in_else = false;
  };
  std::vector<Block> blocks_;
};

// HAProxy's keywords stop at the first empty argument (`""`, an empty variable): what
// follows it is ignored. So does sluice, saying so when something was dropped.
void end_at_empty_word(Line& line, Diagnostics& diags) {
  auto& words = line.words;
  const auto empty =
      std::find_if(words.begin(), words.end(), [](const Word& w) { return w.text.empty(); });
  if (empty == words.end()) return;
  if (empty != words.begin() && std::next(empty) != words.end())
    diags.warning(std::next(empty)->loc,
                  "ignored: it follows an empty argument, which ends the line for HAProxy",
                  "remove the empty argument, or the words after it");
  words.erase(empty, words.end());
}

}  // namespace

void parse_file(const SourceSet& sources, std::uint32_t file, const ParseOptions& options,
                ast::Document& doc, Diagnostics& diags) {
  // Sections never span files, as in HAProxy: each file starts outside any section.
  FileParser parser(doc, diags, options);
  const SourceFile& source = sources.file(file);
  const std::uint32_t count = source.line_count();
  std::uint32_t n = 1;
  const EnvironmentLookup env = [&](std::string_view name) -> std::optional<std::string> {
    if (name.starts_with('.')) return parser.pseudo_variable(name, source.name(), n);
    return options.env(name);
  };
  for (; n <= count; ++n) {
    std::string_view text = source.line(n);
    if (text.empty()) continue;
    Line line = lex_line(text, file, n, env, diags);
    end_at_empty_word(line, diags);
    if (!line.words.empty()) parser.line(line);
  }
  parser.finish();
}

}  // namespace sluice::parser
