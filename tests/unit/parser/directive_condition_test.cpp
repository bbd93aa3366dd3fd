#include "parser/directive_condition.hpp"

#include <doctest/doctest.h>

#include <array>

using namespace sluice::parser;

namespace {

constexpr std::array<std::string_view, 2> kFeatures{"OPENSSL", "THREAD"};
const BuildFacts kBuild{"2.6.12", kFeatures};

std::optional<std::string> env(std::string_view name) {
  if (name == "SET") return "yes";
  if (name == "EMPTY") return "";
  return std::nullopt;
}

// 1 true, 0 false, -1 error: each expectation below was checked with `haproxy -cc` 2.6.12.
int verdict(std::string_view text) {
  auto result = evaluate_directive_condition(text, env, kBuild);
  if (const bool* value = std::get_if<bool>(&result)) return *value ? 1 : 0;
  return -1;
}

}  // namespace

TEST_CASE("directive conditions: integers, operators, precedence") {
  CHECK(verdict("") == 0);
  CHECK(verdict("0") == 0);
  CHECK(verdict("00") == 0);
  CHECK(verdict("1") == 1);
  CHECK(verdict("-1") == 1);
  CHECK(verdict("+1") == 1);
  CHECK(verdict("01") == 1);
  CHECK(verdict("!0") == 1);
  CHECK(verdict("! 1") == 0);
  CHECK(verdict("! !1") == 1);
  CHECK(verdict("1 && 0") == 0);
  CHECK(verdict("1 || 0") == 1);
  CHECK(verdict("0 || 1 && 0") == 0);  // && binds tighter
  CHECK(verdict("!(0||0)") == 1);
  CHECK(verdict("((0) || 1)") == 1);
  CHECK(verdict(" 1 ") == 1);
}

TEST_CASE("directive conditions: predicates") {
  CHECK(verdict("defined(SET)") == 1);
  CHECK(verdict("defined(EMPTY)") == 1);  // set, though empty
  CHECK(verdict("defined(UNSET)") == 0);
  CHECK(verdict("defined") == 0);
  CHECK(verdict("feature(OPENSSL)") == 1);
  CHECK(verdict("feature(QUIC)") == 0);
  CHECK(verdict("feature(OPENSS)") == 0);     // whole names only
  CHECK(verdict("feature( OPENSSL )") == 0);  // blanks are part of an argument
  CHECK(verdict("feature()") == 1);           // an empty name matches any '+'
  CHECK(verdict("streq(a,a)") == 1);
  CHECK(verdict("streq( a , a )") == 1);
  CHECK(verdict("streq( a,a)") == 0);
  CHECK(verdict("streq(\"a b\",'a b')") == 1);  // quote characters are dropped
  CHECK(verdict("streq(,)") == 1);
  CHECK(verdict("strneq(a,b)") == 1);
  CHECK(verdict("version_atleast(2.6)") == 1);
  CHECK(verdict("version_atleast(2.6.13)") == 0);
  CHECK(verdict("version_before(2.6.13)") == 1);
  CHECK(verdict("version_before(2.6.12)") == 0);
  CHECK(verdict("version_atleast()") == 1);  // unparsable versions are the oldest
  CHECK(verdict("version_atleast(abc)") == 1);
  CHECK(verdict("version_before(abc)") == 0);
}

TEST_CASE("directive conditions: errors carry HAProxy's wording and an offset") {
  for (std::string_view bad : {"yes", "1 2", "1 &&", "&& 1", "1 & 1", "(1", "1)", "()", "!",
                               "nosuch(1)", "FEATURE(OPENSSL)", "feature(OPENSSL", "streq(a)",
                               "streq(a,b,c)", "streq", "defined(SET)x", "streq(a\\,b,a\\,b)"})
    CHECK_MESSAGE(verdict(bad) == -1, bad);
  auto result = evaluate_directive_condition("1 && nosuch(2)", env, kBuild);
  REQUIRE(std::holds_alternative<ConditionError>(result));
  CHECK(std::get<ConditionError>(result).message ==
        "unparsable conditional expression 'nosuch(2)'");
  CHECK(std::get<ConditionError>(result).offset == 5);
  result = evaluate_directive_condition("streq(a,b,c)", env, kBuild);
  CHECK(std::get<ConditionError>(result).message ==
        "expected ')' before ',c)' in argument 2 of predicate 'streq' used in conditional "
        "expression");
}

TEST_CASE("HAProxy's version order") {
  CHECK(compare_versions("2.6.12", "2.6.12") == 0);
  CHECK(compare_versions("2.6.12", "2.6") > 0);
  CHECK(compare_versions("2.6.12", "2.6.12.1") < 0);  // a build number
  CHECK(compare_versions("2.6.12", "2.6.12-dev5") > 0);
  CHECK(compare_versions("2.6.12", "2.6.12-rc1") > 0);
  CHECK(compare_versions("2.6.12-dev9", "2.6.12-pre1") < 0);
  CHECK(compare_versions("2.6.12-pre1", "2.6.12-rc1") < 0);
  CHECK(compare_versions("2.6.12", "2.6.12-0") == 0);  // commits after the release
  CHECK(compare_versions("2.6.12", "2.6.12-1") < 0);
  CHECK(compare_versions("2.6.12", "2.7-dev0") < 0);
  CHECK(compare_versions("2.6.12", "2.6.12-1+x") > 0);  // unparsable: the oldest
  CHECK(compare_versions("2.6.12", "v2.7") > 0);
  CHECK(compare_versions("2.6.12", "2.6.12.0.1") > 0);
}
