#include "parser/lexer.hpp"

#include <doctest/doctest.h>

#include <map>

using namespace sluice::parser;

namespace {

EnvironmentLookup fake_env(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
    auto it = vars.find(std::string(name));
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

std::vector<std::string> texts(const Line& line) {
  std::vector<std::string> out;
  for (const auto& w : line.words)
    out.push_back(w.text);
  return out;
}

Line lex(std::string_view text, Diagnostics& diags, std::map<std::string, std::string> vars = {}) {
  return lex_line(text, 1, 7, fake_env(std::move(vars)), diags);
}

}  // namespace

TEST_CASE("lexer splits words on blanks and records 1-based columns") {
  Diagnostics diags;
  auto line = lex("  timeout\tclient  5s", diags);
  CHECK(texts(line) == std::vector<std::string>{"timeout", "client", "5s"});
  CHECK(line.words[0].loc.col == 3);
  CHECK(line.words[0].loc.line == 7);
  CHECK(line.words[1].loc.col == 11);
  CHECK(line.words[2].loc.col == 19);
  CHECK(line.words[2].loc.length == 2);
  CHECK_FALSE(diags.has_errors());
}

TEST_CASE("lexer drops comments outside quotes only") {
  Diagnostics diags;
  CHECK(texts(lex("bind :80 # a comment", diags)) == std::vector<std::string>{"bind", ":80"});
  CHECK(texts(lex("foo#bar", diags)) == std::vector<std::string>{"foo"});
  CHECK(texts(lex("\"a # b\" c", diags)) == std::vector<std::string>{"a # b", "c"});
  CHECK(texts(lex("a\\#b", diags)) == std::vector<std::string>{"a#b"});
  CHECK(lex("   # only a comment", diags).words.empty());
}

TEST_CASE("double quotes keep blanks, process escapes and mark the word quoted") {
  Diagnostics diags;
  auto line = lex(R"(x "a b\"c\\d" 'e\f' g\ h)", diags);
  CHECK(texts(line) == std::vector<std::string>{"x", "a b\"c\\d", "e\\f", "g h"});
  CHECK(line.words[1].quoted);
  CHECK(line.words[2].quoted);
  CHECK_FALSE(line.words[3].quoted);
}

TEST_CASE("quotes may join parts of one word") {
  Diagnostics diags;
  CHECK(texts(lex(R"(ab"c d"'e f'g)", diags)) == std::vector<std::string>{"abc de fg"});
}

TEST_CASE("escapes: \\r \\n \\t and \\xHH") {
  Diagnostics diags;
  CHECK(texts(lex(R"("a\tb\x41\n")", diags)) == std::vector<std::string>{"a\tbA\n"});
}

TEST_CASE("a backslash before anything HAProxy does not escape stays, as HAProxy 2.6 keeps it") {
  // Checked against haproxy 2.6.12 with set-header values reaching a server.
  Diagnostics diags;
  CHECK(texts(lex(R"(a\1b\$c\dz\  "d\e\$f\1\ \#x\'" g\"h\'i\\j\x41)", diags)) ==
        std::vector<std::string>{"a\\1b\\$c\\dz ", "d\\e$f\\1 #x'", "g\"h'i\\jA"});
  CHECK(texts(lex(R"(^/(\d+)$ /v\1 end\)", diags)) ==
        std::vector<std::string>{"^/(\\d+)$", "/v\\1", "end\\"});
  CHECK_FALSE(diags.has_errors());
}

TEST_CASE("environment variables expand inside double quotes only") {
  Diagnostics diags;
  std::map<std::string, std::string> vars{{"PORT", "8080"}, {"EMPTY", ""}};
  CHECK(texts(lex(R"(bind ":${PORT}" "$PORT" '${PORT}' ${PORT})", diags, vars)) ==
        std::vector<std::string>{"bind", ":8080", "8080", "${PORT}", "${PORT}"});
  CHECK(texts(lex(R"("${UNSET}x")", diags, vars)) == std::vector<std::string>{"x"});
  CHECK(texts(lex(R"("${UNSET-dflt}")", diags, vars)) == std::vector<std::string>{"dflt"});
  CHECK(texts(lex(R"("${PORT-dflt}")", diags, vars)) == std::vector<std::string>{"8080"});
  // The default replaces an unset variable only, not an empty one.
  CHECK(texts(lex(R"("${EMPTY-dflt}x")", diags, vars)) == std::vector<std::string>{"x"});
  CHECK(texts(lex(R"("cost: $5")", diags, vars)) == std::vector<std::string>{"cost: $5"});
  CHECK_FALSE(diags.has_errors());
}

TEST_CASE("an unterminated quote is an error at the word") {
  Diagnostics diags;
  lex(R"(bind "abc)", diags);
  REQUIRE(diags.error_count() == 1);
  CHECK(diags.all()[0].message == "unmatched quote");
  CHECK(diags.all()[0].where.col == 6);
  Diagnostics single;
  lex("x 'abc", single);
  CHECK(single.error_count() == 1);
}

TEST_CASE("render shows file:line:col, the line, a caret and the hint") {
  SourceSet sources;
  auto file = sources.add("site.cfg", "global\n\tfoo bar\n");
  Diagnostic d{Severity::error, {file, 2, 6, 3}, "unknown thing 'bar'", "try baz"};
  CHECK(render(d, sources) ==
        "site.cfg:2:6: error: unknown thing 'bar'\n"
        "    2 | \tfoo bar\n"
        "      | \t    ^~~\n"
        "      = hint: try baz\n");
}

TEST_CASE("a word's length stops at the word: not the blanks or comment after it") {
  Diagnostics diags;
  auto line = lex("tiemout      client#comment", diags);
  REQUIRE(line.words.size() == 2);
  CHECK(line.words[0].loc.length == 7);
  CHECK(line.words[1].loc.length == 6);
}

TEST_CASE("${VAR[*]} expands into one word per blank-separated item") {
  Diagnostics diags;
  std::map<std::string, std::string> vars{{"ADDRS", " 10.0.0.1:80  10.0.0.2:80 "}};
  auto line = lex(R"(server-list "${ADDRS[*]}" end)", diags, vars);
  CHECK(texts(line) ==
        std::vector<std::string>{"server-list", "10.0.0.1:80", "10.0.0.2:80", "end"});
  CHECK(line.words[1].loc.col == line.words[2].loc.col);
  CHECK(texts(lex(R"("${NOPE[*]}x")", diags, vars)) == std::vector<std::string>{"x"});
}
