// Shared keyword machinery: argument helpers, row lookup, and bind/server setting tables.
#include <fmt/format.h>

#include <algorithm>

#include "parser/condition.hpp"
#include "parser/keywords.hpp"
#include "parser/sample.hpp"
#include "parser/suggest.hpp"
#include "parser/vocabulary.hpp"

namespace sluice::parser {

unsigned section_bit(ast::SectionKind kind) {
  switch (kind) {
    case ast::SectionKind::global:
      return in_global;
    case ast::SectionKind::defaults:
      return in_defaults;
    case ast::SectionKind::frontend:
      return in_frontend;
    case ast::SectionKind::backend:
      return in_backend;
    case ast::SectionKind::listen:
      return in_listen;
  }
  return 0;
}

bool Args::count(std::size_t min, std::size_t max) {
  if (words.size() >= min && words.size() <= max) return true;
  if (words.size() < min) {
    error_missing(min == max ? fmt::format("'{}' expects {} argument(s)", path, min)
                             : fmt::format("'{}' expects at least {} argument(s)", path, min));
  } else {
    error_at(words[max], max == 0 ? fmt::format("'{}' takes no argument", path)
                                  : fmt::format("'{}' takes at most {} argument(s); unexpected "
                                                "'{}'",
                                                path, max, words[max].text));
  }
  return false;
}

void Args::error_at(const Word& w, std::string message, std::string hint) {
  diags.error(w.loc, std::move(message), std::move(hint));
}

std::optional<std::int64_t> Args::integer(const Word& w, std::int64_t min, std::int64_t max) {
  auto v = parse_integer(w.text, min, max);
  if (auto* err = error_of(v)) {
    error_at(w, fmt::format("'{}': {}", path, err->message));
    return std::nullopt;
  }
  return std::get<std::int64_t>(v);
}

bool Args::split_condition(std::span<const Word>& rest, std::optional<ast::Condition>& cond) {
  const std::size_t at = condition_start(words);
  rest = words.subspan(0, at);
  if (at == words.size()) return true;
  cond = parse_condition(words.subspan(at), diags);
  return cond.has_value();
}

bool is_one_of(std::string_view word, std::initializer_list<std::string_view> list) {
  for (auto item : list)
    if (item == word) return true;
  return false;
}

void Args::error_missing(std::string what, std::string hint) {
  diags.error(end, std::move(what), std::move(hint));
}

const KeywordRow* find_row(std::span<const KeywordRow> rows, std::span<const Word> words,
                           std::size_t& path_words) {
  const KeywordRow* best = nullptr;
  if (words.empty()) return nullptr;
  const std::string_view first = words[0].text;
  // Rows are sorted by path, so every row starting with `first` follows its lower bound.
  auto it = std::lower_bound(rows.begin(), rows.end(), first,
                             [](const KeywordRow& r, std::string_view w) { return r.path < w; });
  for (; it != rows.end() && it->path.starts_with(first); ++it) {
    const KeywordRow& row = *it;
    if (row.path.size() > first.size() && row.path[first.size()] != ' ') continue;
    std::string_view path = row.path;
    std::size_t n = 0;
    bool match = true;
    while (!path.empty()) {
      auto space = path.find(' ');
      std::string_view part = path.substr(0, space);
      if (n >= words.size() || words[n].text != part) {
        match = false;
        break;
      }
      ++n;
      path = space == std::string_view::npos ? std::string_view() : path.substr(space + 1);
    }
    if (match && n > path_words) {
      best = &row;
      path_words = n;
    }
  }
  return best;
}

std::size_t condition_start(std::span<const Word> words) {
  for (std::size_t i = 0; i < words.size(); ++i)
    if (!words[i].quoted && (words[i].text == "if" || words[i].text == "unless")) return i;
  return words.size();
}

std::optional<ast::Payload> parse_flag(Args& a) {
  if (!a.count(0, 0)) return std::nullopt;
  return ast::Flag{};
}

std::optional<ast::Payload> parse_duration(Args& a) {
  if (!a.count(1, 1)) return std::nullopt;
  auto v = parse_time_us(a.words[0].text);
  if (auto* err = error_of(v)) {
    a.error_at(a.words[0], fmt::format("'{}': {}", a.path, err->message), err->hint);
    return std::nullopt;
  }
  return ast::Duration{std::get<std::uint64_t>(v)};
}

std::optional<ast::Payload> parse_text(Args& a) {
  if (!a.count(1, 1)) return std::nullopt;
  return ast::Text{a.words[0]};
}

namespace {

constexpr std::string_view facilities[] = {
    "alert",  "audit",  "auth",   "auth2",  "cron",   "cron2",  "daemon", "ftp",
    "kern",   "local0", "local1", "local2", "local3", "local4", "local5", "local6",
    "local7", "lpr",    "mail",   "news",   "ntp",    "syslog", "user",   "uucp"};
constexpr std::string_view levels[] = {"alert", "crit", "debug",  "emerg",
                                       "err",   "info", "notice", "warning"};
constexpr std::string_view log_formats[] = {"iso",     "local",   "priority", "raw",
                                            "rfc3164", "rfc5424", "short",    "timed"};

bool one_of(std::span<const std::string_view> list, std::string_view w) {
  return std::find(list.begin(), list.end(), w) != list.end();
}

}  // namespace

std::optional<ast::Payload> parse_log(Args& a) {
  ast::Log log;
  if (a.words.size() == 1 && a.words[0].text == "global") {
    log.global = true;
    return log;
  }
  if (a.words.empty()) {
    // `no log` is handled by the caller setting `disable`; a bare `log` is an error.
    return log;
  }
  log.target = a.words[0];
  std::size_t i = 1;
  while (i + 1 < a.words.size() &&
         (a.words[i].text == "len" || a.words[i].text == "format" || a.words[i].text == "sample")) {
    const Word& key = a.words[i];
    const Word& value = a.words[i + 1];
    if (key.text == "len") {
      auto v = parse_integer(value.text, 80, 65535);
      if (auto* err = error_of(v)) {
        a.error_at(value, fmt::format("log 'len': {}", err->message));
        return std::nullopt;
      }
      log.max_length = std::get<std::int64_t>(v);
    } else if (key.text == "format") {
      if (!one_of(log_formats, value.text)) {
        a.error_at(value, fmt::format("unknown log format '{}'", value.text),
                   "formats: rfc3164 rfc5424 short raw iso local priority timed");
        return std::nullopt;
      }
      log.format = value;
    } else {
      a.error_at(key, "log 'sample' is valid HAProxy but not supported by sluice");
      return std::nullopt;
    }
    i += 2;
  }
  if (i >= a.words.size()) {
    a.error_missing("'log' expects a facility after the target",
                    "for example: log 127.0.0.1:514 local0");
    return std::nullopt;
  }
  if (!one_of(facilities, a.words[i].text)) {
    a.error_at(a.words[i], fmt::format("unknown log facility '{}'", a.words[i].text),
               did_you_mean(a.words[i].text, facilities));
    return std::nullopt;
  }
  log.facility = a.words[i++];
  for (auto* slot : {&log.level, &log.min_level}) {
    if (i >= a.words.size()) break;
    if (!one_of(levels, a.words[i].text)) {
      a.error_at(a.words[i], fmt::format("unknown log level '{}'", a.words[i].text),
                 "levels: emerg alert crit err warning notice info debug");
      return std::nullopt;
    }
    *slot = a.words[i++];
  }
  if (i < a.words.size()) {
    a.error_at(a.words[i], fmt::format("unexpected '{}' in 'log'", a.words[i].text));
    return std::nullopt;
  }
  return log;
}

// ---- bind and server settings -------------------------------------------------------------

namespace {

enum class ArgKind { none, word, time, integer, choice, sample };

struct SettingRow {
  std::string_view name;
  ArgKind kind;
  std::int64_t min = 0;
  std::int64_t max = 0;
  std::string_view choices = {};  // space-separated, for ArgKind::choice
  bool negatable = false;         // `no-NAME` form exists (server lines)
};

constexpr std::string_view tls_versions = "SSLv3 TLSv1.0 TLSv1.1 TLSv1.2 TLSv1.3";

constexpr SettingRow bind_rows[] = {
    {"accept-proxy", ArgKind::none},
    {"alpn", ArgKind::word},
    {"ca-file", ArgKind::word},
    {"ciphers", ArgKind::word},
    {"ciphersuites", ArgKind::word},
    {"crl-file", ArgKind::word},
    {"crt", ArgKind::word},
    {"crt-list", ArgKind::word},
    {"curves", ArgKind::word},
    {"expose-fd", ArgKind::choice, 0, 0, "listeners"},
    {"gid", ArgKind::integer, 0, INT32_MAX},
    {"group", ArgKind::word},
    {"level", ArgKind::choice, 0, 0, "user operator admin"},
    {"mode", ArgKind::word},
    {"name", ArgKind::word},
    {"no-sslv3", ArgKind::none},
    {"no-tls-tickets", ArgKind::none},
    {"no-tlsv10", ArgKind::none},
    {"no-tlsv11", ArgKind::none},
    {"no-tlsv12", ArgKind::none},
    {"no-tlsv13", ArgKind::none},
    {"proto", ArgKind::choice, 0, 0, "h1 h2"},
    {"severity-output", ArgKind::choice, 0, 0, "none number string"},
    {"ssl", ArgKind::none},
    {"ssl-max-ver", ArgKind::choice, 0, 0, tls_versions},
    {"ssl-min-ver", ArgKind::choice, 0, 0, tls_versions},
    {"strict-sni", ArgKind::none},
    {"tls-ticket-keys", ArgKind::word},
    {"uid", ArgKind::integer, 0, INT32_MAX},
    {"user", ArgKind::word},
    {"v4v6", ArgKind::none},
    {"v6only", ArgKind::none},
    {"verify", ArgKind::choice, 0, 0, "none optional required"},
};

constexpr SettingRow server_rows[] = {
    {"addr", ArgKind::word},
    {"alpn", ArgKind::word},
    {"backup", ArgKind::none, 0, 0, {}, true},
    {"ca-file", ArgKind::word},
    {"check", ArgKind::none, 0, 0, {}, true},
    {"check-sni", ArgKind::word},
    {"check-ssl", ArgKind::none, 0, 0, {}, true},
    {"ciphers", ArgKind::word},
    {"ciphersuites", ArgKind::word},
    {"crl-file", ArgKind::word},
    {"crt", ArgKind::word},
    {"disabled", ArgKind::none},
    {"downinter", ArgKind::time},
    {"enabled", ArgKind::none},
    {"fall", ArgKind::integer, 1, INT32_MAX},
    {"fastinter", ArgKind::time},
    {"inter", ArgKind::time},
    {"maxconn", ArgKind::integer, 0, INT32_MAX},
    {"no-sslv3", ArgKind::none},
    {"no-tlsv10", ArgKind::none},
    {"no-tlsv11", ArgKind::none},
    {"no-tlsv12", ArgKind::none},
    {"no-tlsv13", ArgKind::none},
    {"port", ArgKind::integer, 1, 65535},
    {"rise", ArgKind::integer, 1, INT32_MAX},
    {"send-proxy", ArgKind::none, 0, 0, {}, true},
    {"send-proxy-v2", ArgKind::none, 0, 0, {}, true},
    {"sni", ArgKind::sample},
    {"ssl", ArgKind::none, 0, 0, {}, true},
    {"ssl-max-ver", ArgKind::choice, 0, 0, tls_versions},
    {"ssl-min-ver", ArgKind::choice, 0, 0, tls_versions},
    {"ssl-reuse", ArgKind::none, 0, 0, {}, true},
    {"tls-tickets", ArgKind::none, 0, 0, {}, true},
    {"verify", ArgKind::choice, 0, 0, "none required"},
    {"verifyhost", ArgKind::word},
    {"weight", ArgKind::integer, 0, 256},
};

constexpr bool sorted_by_name(std::span<const SettingRow> rows) {
  return std::is_sorted(rows.begin(), rows.end(),
                        [](const SettingRow& a, const SettingRow& b) { return a.name < b.name; });
}
static_assert(sorted_by_name(bind_rows), "find_setting() binary-searches bind_rows");
static_assert(sorted_by_name(server_rows), "find_setting() binary-searches server_rows");

bool in_choices(std::string_view choices, std::string_view word) {
  while (!choices.empty()) {
    auto space = choices.find(' ');
    if (choices.substr(0, space) == word) return true;
    if (space == std::string_view::npos) break;
    choices.remove_prefix(space + 1);
  }
  return false;
}

const SettingRow* find_setting(std::span<const SettingRow> rows, std::string_view name) {
  auto it = std::lower_bound(rows.begin(), rows.end(), name,
                             [](const SettingRow& r, std::string_view n) { return r.name < n; });
  return it != rows.end() && it->name == name ? &*it : nullptr;
}

std::optional<std::vector<ast::Setting>> parse_settings(std::span<const SettingRow> rows,
                                                        std::span<const std::string_view> haproxy,
                                                        const char* line_kind,
                                                        std::span<const Word> words,
                                                        Diagnostics& diags) {
  std::vector<ast::Setting> out;
  bool ok = true;
  for (std::size_t i = 0; i < words.size(); ++i) {
    const Word& w = words[i];
    ast::Setting setting{w, std::nullopt, false};
    const SettingRow* row = find_setting(rows, w.text);
    if (row == nullptr && w.text.starts_with("no-")) {
      const SettingRow* positive = find_setting(rows, std::string_view(w.text).substr(3));
      if (positive != nullptr && positive->negatable) {
        row = positive;
        setting.negated = true;
        setting.name.text = std::string(positive->name);
      }
    }
    if (row == nullptr) {
      ok = false;
      if (vocabulary::contains(haproxy, w.text)) {
        diags.error(w.loc, fmt::format("{} setting '{}' is valid HAProxy but not supported by "
                                       "sluice",
                                       line_kind, w.text));
        // Its arguments cannot be told apart from settings; stop at this word.
        break;
      }
      std::vector<std::string_view> names;
      for (const auto& r : rows)
        names.push_back(r.name);
      diags.error(w.loc, fmt::format("unknown {} setting '{}'", line_kind, w.text),
                  did_you_mean(w.text, names));
      break;
    }
    if (row->kind != ArgKind::none && !setting.negated) {
      if (i + 1 >= words.size()) {
        Location end = w.loc;
        end.col += end.length;
        end.length = 1;
        diags.error(end, fmt::format("{} setting '{}' expects an argument", line_kind, w.text));
        ok = false;
        break;
      }
      const Word& value = words[++i];
      std::optional<ValueError> err;
      if (row->kind == ArgKind::time) {
        auto time = parse_time_us(value.text);
        if (auto* e = error_of(time)) err = *e;
      } else if (row->kind == ArgKind::integer) {
        auto number = parse_integer(value.text, row->min, row->max);
        if (auto* e = error_of(number)) err = *e;
      } else if (row->kind == ArgKind::choice && !in_choices(row->choices, value.text)) {
        err = ValueError{fmt::format("'{}' is not one of: {}", value.text, row->choices), 0, {}};
      } else if (row->kind == ArgKind::sample && !parse_sample(value.text, value.loc, diags)) {
        ok = false;  // parse_sample said why
        continue;
      }
      if (err) {
        diags.error(value.loc, fmt::format("{} setting '{}': {}", line_kind, w.text, err->message),
                    err->hint);
        ok = false;
        continue;
      }
      setting.value = value;
    }
    out.push_back(std::move(setting));
  }
  if (!ok) return std::nullopt;
  return out;
}

}  // namespace

std::optional<std::vector<ast::Setting>> parse_bind_settings(std::span<const Word> words,
                                                             Diagnostics& diags) {
  return parse_settings(bind_rows, vocabulary::bind_settings(), "bind", words, diags);
}

std::optional<std::vector<ast::Setting>> parse_server_settings(std::span<const Word> words,
                                                               Diagnostics& diags) {
  return parse_settings(server_rows, vocabulary::server_settings(), "server", words, diags);
}

}  // namespace sluice::parser
