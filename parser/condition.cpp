#include "parser/condition.hpp"

#include <fmt/format.h>

#include "parser/sample.hpp"
#include "parser/values.hpp"

namespace sluice::parser {

using ast::IntOperator;
using ast::MatchMethod;

namespace {

std::optional<MatchMethod> match_method(std::string_view name) {
  static constexpr std::pair<std::string_view, MatchMethod> methods[] = {
      {"str", MatchMethod::str},    {"beg", MatchMethod::beg}, {"end", MatchMethod::end},
      {"sub", MatchMethod::sub},    {"reg", MatchMethod::reg}, {"found", MatchMethod::found},
      {"len", MatchMethod::len},    {"ip", MatchMethod::ip},   {"int", MatchMethod::integer},
      {"bool", MatchMethod::bool_}, {"dir", MatchMethod::dir}, {"dom", MatchMethod::dom},
  };
  for (auto& [n, m] : methods)
    if (n == name) return m;
  return std::nullopt;
}

std::optional<IntOperator> int_operator(std::string_view w) {
  if (w == "eq") return IntOperator::eq;
  if (w == "ge") return IntOperator::ge;
  if (w == "gt") return IntOperator::gt;
  if (w == "le") return IntOperator::le;
  if (w == "lt") return IntOperator::lt;
  return std::nullopt;
}

}  // namespace

std::optional<ast::AclExpr> parse_acl_expr(std::span<const Word> words, Diagnostics& diags) {
  ast::AclExpr expr;
  expr.loc = words[0].loc;
  auto sample = parse_sample(words[0].text, words[0].loc, diags);
  if (!sample) return std::nullopt;
  expr.sample = std::move(*sample);
  const FetchInfo* info = find_fetch(expr.sample.fetch);
  expr.method = info->acl_method;
  std::size_t i = 1;
  // Flags come first and end at the first word that is not one (or at `--`).
  // As HAProxy: any unquoted word starting with '-' here is a flag (so `-5` is refused).
  while (i < words.size() && !words[i].quoted && words[i].text.starts_with('-') &&
         words[i].text.size() > 1) {
    const Word& flag = words[i];
    if (flag.text == "--") {
      ++i;
      break;
    }
    if (flag.text == "-i") {
      expr.ignore_case = true;
      ++i;
    } else if (flag.text == "-n" || flag.text == "-M") {
      ++i;
    } else if (flag.text == "-f" || flag.text == "-m" || flag.text == "-u") {
      if (i + 1 >= words.size()) {
        diags.error(flag.loc, fmt::format("ACL flag '{}' needs an argument", flag.text));
        return std::nullopt;
      }
      const Word& value = words[i + 1];
      if (flag.text == "-f") {
        expr.pattern_files.push_back(value);
      } else if (flag.text == "-m") {
        auto m = match_method(value.text);
        if (!m) {
          diags.error(value.loc, fmt::format("unknown match method '{}'", value.text),
                      "methods: str beg end sub reg found len ip int bool dir dom");
          return std::nullopt;
        }
        // HAProxy lets `-m` override the method a derived name implies (`path_beg -m sub`).
        expr.method = *m;
      } else {
        diags.error(flag.loc, "ACL flag '-u' is valid HAProxy but not supported by sluice");
        return std::nullopt;
      }
      i += 2;
    } else {
      diags.error(flag.loc, fmt::format("unknown ACL flag '{}'", flag.text),
                  "flags: -i -f FILE -m METHOD -n -M -u ID --");
      return std::nullopt;
    }
  }
  const bool integer_match =
      expr.method == MatchMethod::integer ||
      (expr.method == MatchMethod::none && info->type == SampleType::integer) ||
      expr.method == MatchMethod::len;
  if (integer_match && i < words.size()) {
    if (auto op = int_operator(words[i].text)) {
      expr.op = *op;
      ++i;
      if (i >= words.size()) {
        diags.error(words[i - 1].loc, fmt::format("missing value after '{}'", words[i - 1].text));
        return std::nullopt;
      }
    }
  }
  // Values are checked by runtime/rules at compile time, with HAProxy's own rules.
  expr.values.assign(words.begin() + static_cast<std::ptrdiff_t>(i), words.end());
  return expr;
}

std::optional<ast::Condition> parse_condition(std::span<const Word> words, Diagnostics& diags) {
  ast::Condition cond;
  cond.loc = words[0].loc;
  cond.unless = words[0].text == "unless";
  cond.any_of.emplace_back();
  bool ok = true;
  std::size_t i = 1;
  if (i >= words.size()) {
    diags.error(words[0].loc, fmt::format("missing condition after '{}'", words[0].text));
    return std::nullopt;
  }
  while (i < words.size()) {
    const Word& w = words[i];
    if (!w.quoted && (w.text == "||" || w.text == "or")) {
      if (cond.any_of.back().empty()) {
        diags.error(w.loc, fmt::format("'{}' without a condition before it", w.text));
        return std::nullopt;
      }
      cond.any_of.emplace_back();
      ++i;
      continue;
    }
    ast::ConditionTerm term;
    term.loc = w.loc;
    // `!` negates the next term; it may stand alone or be glued to it (`!{`, `!acl`).
    Word target = w;
    if (!w.quoted && w.text.starts_with('!')) {
      term.negated = true;
      if (w.text == "!") {
        if (++i >= words.size()) {
          diags.error(w.loc, "'!' at the end of a condition", "write '!' before an ACL name");
          return std::nullopt;
        }
        target = words[i];
      } else {
        target.text.erase(0, 1);
        target.loc.col += 1;
        target.loc.length = target.loc.length > 1 ? target.loc.length - 1 : 1;
      }
    }
    if (!target.quoted && target.text == "{") {
      std::size_t close = i + 1;
      while (close < words.size() && !(words[close].text == "}" && !words[close].quoted))
        ++close;
      if (close >= words.size()) {
        diags.error(target.loc, "missing '}' to close the anonymous ACL",
                    "braces must be separate words: '{ ssl_fc }'");
        return std::nullopt;
      }
      if (close == i + 1) {
        diags.error(target.loc, "empty anonymous ACL '{ }'");
        return std::nullopt;
      }
      auto expr = parse_acl_expr(words.subspan(i + 1, close - i - 1), diags);
      if (!expr)
        ok = false;
      else
        term.acl = std::move(*expr);
      i = close + 1;
    } else if (!target.quoted && (target.text == "}" || target.text.starts_with('{'))) {
      diags.error(target.loc, fmt::format("unexpected '{}' in condition", target.text),
                  "braces must be separate words: '{ ssl_fc }'");
      return std::nullopt;
    } else {
      term.acl = target;
      ++i;
    }
    cond.any_of.back().push_back(std::move(term));
  }
  if (cond.any_of.back().empty()) {
    diags.error(words.back().loc, fmt::format("condition ends with '{}'", words.back().text));
    return std::nullopt;
  }
  if (!ok) return std::nullopt;
  return cond;
}

}  // namespace sluice::parser
