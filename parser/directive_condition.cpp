#include "parser/directive_condition.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <optional>
#include <vector>

namespace sluice::parser {

namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// major, minor, patch, build, tag rank (dev < pre < rc < release), tag number, commits.
using VersionParts = std::array<unsigned long, 7>;
constexpr std::size_t kTagRank = 4, kTagNumber = 5, kCommits = 6;
constexpr unsigned long kRelease = 3;

std::optional<unsigned long> number_at(std::string_view text, std::size_t& pos) {
  if (pos >= text.size() || !is_digit(text[pos])) return std::nullopt;
  unsigned long n = 0;
  while (pos < text.size() && is_digit(text[pos]))
    n = n * 10 + static_cast<unsigned long>(text[pos++] - '0');
  return n;
}

std::optional<VersionParts> parse_version(std::string_view text) {
  VersionParts parts{};
  parts[kTagRank] = kRelease;
  std::size_t pos = 0;
  for (std::size_t field = 0; field < 4; ++field) {
    auto n = number_at(text, pos);
    if (!n) return std::nullopt;
    parts[field] = *n;
    if (pos == text.size()) return parts;
    if (text[pos] != '.' || field == 3) break;
    ++pos;
  }
  // `-devN`, `-preN`, `-rcN` (once, first), then `-N` commits after it.
  bool first = true;
  while (pos < text.size()) {
    if (text[pos] != '-') return std::nullopt;
    ++pos;
    constexpr std::string_view tags[] = {"dev", "pre", "rc"};
    const auto tag = std::find_if(std::begin(tags), std::end(tags), [&](std::string_view t) {
      return text.substr(pos).starts_with(t);
    });
    if (first && tag != std::end(tags)) {
      parts[kTagRank] = static_cast<unsigned long>(tag - std::begin(tags));
      pos += tag->size();
      parts[kTagNumber] = number_at(text, pos).value_or(0);
    } else if (auto commits = number_at(text, pos)) {
      parts[kCommits] = *commits;
    } else {
      return std::nullopt;
    }
    first = false;
  }
  return parts;
}

class ConditionParser {
 public:
  ConditionParser(std::string_view text, const EnvironmentLookup& env, const BuildFacts& build)
      : text_(text), env_(env), build_(build) {}

  std::variant<bool, ConditionError> evaluate() {
    const bool value = any_of();
    if (!error_ && (skip_blanks(), pos_ < text_.size()))
      fail(fmt::format("unexpected character '{}' at the end of conditional expression '{}'",
                       text_[pos_], text_));
    if (error_) return *error_;
    return value;
  }

 private:
  // `A || B`: HAProxy parses the whole expression even where the value is already known.
  bool any_of() {
    bool value = all_of();
    while (!error_ && operator_next("||"))
      value = all_of() || value;
    return value;
  }

  bool all_of() {
    bool value = term();
    while (!error_ && operator_next("&&"))
      value = term() && value;
    return value;
  }

  bool term() {
    skip_blanks();
    const std::size_t start = pos_;
    if (pos_ == text_.size()) {
      fail(fmt::format("missing a term at the end of conditional expression '{}'", text_));
      return false;
    }
    const char c = text_[pos_];
    if (c == '!') {
      ++pos_;
      return !term();
    }
    if (c == '(') {
      ++pos_;
      const bool value = any_of();
      if (error_) return false;
      skip_blanks();
      if (pos_ == text_.size() || text_[pos_] != ')') {
        fail(fmt::format("expected ')' after conditional expression '{}'", text_.substr(start)),
             start);
        return false;
      }
      ++pos_;
      return value;
    }
    if (is_digit(c) ||
        ((c == '-' || c == '+') && pos_ + 1 < text_.size() && is_digit(text_[pos_ + 1]))) {
      ++pos_;
      bool nonzero = c != '0' && is_digit(c);
      while (pos_ < text_.size() && is_digit(text_[pos_]))
        nonzero |= text_[pos_++] != '0';
      return nonzero;
    }
    return predicate(start);
  }

  bool predicate(std::size_t start) {
    struct Row {
      std::string_view name;
      std::size_t arguments;
    };
    static constexpr Row rows[] = {{"defined", 1}, {"feature", 1},         {"streq", 2},
                                   {"strneq", 2},  {"version_atleast", 1}, {"version_before", 1}};
    std::size_t end = pos_;
    while (end < text_.size() &&
           (is_digit(text_[end]) || text_[end] == '_' || (text_[end] >= 'a' && text_[end] <= 'z')))
      ++end;
    const std::string_view name = text_.substr(pos_, end - pos_);
    const auto row = std::find_if(std::begin(rows), std::end(rows),
                                  [&](const Row& r) { return r.name == name; });
    if (name.empty() || row == std::end(rows)) {
      fail(fmt::format("unparsable conditional expression '{}'", text_.substr(start)), start);
      return false;
    }
    pos_ = end;
    std::vector<std::string> args;
    if (!arguments(*row, args)) return false;
    if (args.size() < row->arguments) {
      fail(fmt::format("missing arguments (got {}/{}), type 'string' expected in argument {} of "
                       "predicate '{}' used in conditional expression",
                       args.size(), row->arguments, args.size() + 1, row->name),
           start);
      return false;
    }
    if (name == "defined") return env_(args[0]).has_value();
    if (name == "feature") return has_feature(args[0]);
    if (name == "streq") return args[0] == args[1];
    if (name == "strneq") return args[0] != args[1];
    const int order = compare_versions(build_.version, args[0]);
    return name == "version_atleast" ? order >= 0 : order < 0;
  }

  // `(a,b)`: commas and `)` end an argument, quote characters are dropped, blanks kept
  // (HAProxy's argument lists). Without parentheses a predicate gets one empty argument.
  bool arguments(const auto& row, std::vector<std::string>& args) {
    if (pos_ == text_.size() || text_[pos_] != '(') {
      args.emplace_back();
      return true;
    }
    ++pos_;
    args.emplace_back();
    while (pos_ < text_.size()) {
      const char c = text_[pos_];
      if (c == ')') {
        ++pos_;
        return true;
      }
      if (c == ',') {
        if (args.size() == row.arguments) {
          fail(
              fmt::format("expected ')' before '{}' in argument {} of predicate '{}' used in "
                          "conditional expression",
                          text_.substr(pos_), args.size(), row.name));
          return false;
        }
        args.emplace_back();
      } else if (c != '"' && c != '\'') {
        args.back() += c;
      }
      ++pos_;
    }
    fail(fmt::format("expected ')' in argument {} of predicate '{}' used in conditional expression",
                     args.size(), row.name));
    return false;
  }

  // `-vv` lists `+NAME`; an empty name matches any '+', as in HAProxy.
  bool has_feature(std::string_view name) const {
    if (name.empty()) return !build_.features.empty();
    return std::find(build_.features.begin(), build_.features.end(), name) != build_.features.end();
  }

  bool operator_next(std::string_view op) {
    skip_blanks();
    if (!text_.substr(pos_).starts_with(op)) return false;
    pos_ += op.size();
    return true;
  }

  void skip_blanks() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t'))
      ++pos_;
  }

  void fail(std::string message, std::optional<std::size_t> at = std::nullopt) {
    if (!error_) error_ = ConditionError{std::move(message), at.value_or(pos_)};
  }

  std::string_view text_;
  std::size_t pos_ = 0;
  const EnvironmentLookup& env_;
  const BuildFacts& build_;
  std::optional<ConditionError> error_;
};

}  // namespace

int compare_versions(std::string_view a, std::string_view b) {
  const VersionParts left = parse_version(a).value_or(VersionParts{});
  const VersionParts right = parse_version(b).value_or(VersionParts{});
  return left < right ? -1 : left > right ? 1 : 0;
}

std::variant<bool, ConditionError> evaluate_directive_condition(std::string_view text,
                                                                const EnvironmentLookup& env,
                                                                const BuildFacts& build) {
  if (text.empty()) return false;
  return ConditionParser(text, env, build).evaluate();
}

std::variant<bool, ConditionError> evaluate_condition_line(std::string_view line,
                                                           const EnvironmentLookup& env,
                                                           const BuildFacts& build) {
  Diagnostics diags;
  const Line words = lex_line(line, 0, 1, env, diags, Comments::are_text);
  if (diags.has_errors()) return ConditionError{diags.all().front().message, 0};
  std::string text;
  for (const Word& word : words.words) {
    if (!text.empty()) text += ' ';
    text += word.text;
  }
  return evaluate_directive_condition(text, env, build);
}

}  // namespace sluice::parser
