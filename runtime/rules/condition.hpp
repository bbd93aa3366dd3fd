// ACL conditions compiled once at worker start and evaluated per request with HAProxy's
// semantics (configuration.txt 7.1-7.2): tests of a named ACL or-ed, terms and-ed, groups
// or-ed, `!` and `unless`; a fetch without a sample fails its test. Immutable and shared
// by every event loop. Reads requests only through Facts; knows nothing of actions.
#pragma once

#include <map>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "runtime/config/config.hpp"
#include "runtime/rules/facts.hpp"
#include "runtime/rules/fetch.hpp"
#include "runtime/rules/pattern.hpp"

namespace sluice::rules {

// HAProxy's ACL_TEST_*: `and` is bitwise &, `or` is |, `!` swaps pass and fail. `miss`: a
// fetch may still get its data (tcp-request inspect-delay), ask again later.
enum class Verdict : std::uint8_t { fail = 0, miss = 1, pass = 3 };

// One `CRITERION [flags] [operator] PATTERN...`.
class CompiledTest {
 public:
  CompiledTest(SampleSpec spec, Matcher matcher)
      : spec_(std::move(spec)), matcher_(std::move(matcher)) {}
  Verdict evaluate(Facts& facts, std::span<char> scratch, bool final) const;
  const SampleSpec& sample() const { return spec_; }
  const Matcher& matcher() const { return matcher_; }

 private:
  SampleSpec spec_;
  Matcher matcher_;
};

// Every line of a named ACL (or the one test of an anonymous ACL), or-ed.
class CompiledAcl {
 public:
  explicit CompiledAcl(std::vector<CompiledTest> tests) : tests_(std::move(tests)) {}
  Verdict evaluate(Facts& facts, std::span<char> scratch, bool final) const;

 private:
  std::vector<CompiledTest> tests_;
};

class CompiledCondition {
 public:
  struct Term {
    bool negated = false;
    std::shared_ptr<const CompiledAcl> acl;
  };

  CompiledCondition() = default;
  CompiledCondition(std::vector<std::vector<Term>> any_of, bool unless)
      : any_of_(std::move(any_of)), unless_(unless) {}

  // The final answer: everything a fetch can read is there (HTTP rules, or the end of an
  // inspect-delay). `scratch` receives converted samples: give it tune.bufsize bytes.
  bool matches(Facts& facts, std::span<char> scratch) const {
    return evaluate(facts, scratch, true) == Verdict::pass;
  }
  // Not final: Verdict::miss when the answer may change as data arrives.
  Verdict evaluate(Facts& facts, std::span<char> scratch, bool final) const;

 private:
  std::vector<std::vector<Term>> any_of_;
  bool unless_ = false;
};

// Compiles conditions, sharing each named ACL's compiled patterns between the conditions
// that use it (a 100k-line -f file is read into matchers once per side).
class Compiler {
 public:
  // Throws CompileError for what HAProxy refuses but the parser let through (bad regex,
  // binary fetch without -m, match method incompatible with the fetch, bad occurrence).
  CompiledCondition condition(const config::Condition& condition, Side side);
  std::shared_ptr<const CompiledAcl> acl(const config::Acl& acl, Side side);

 private:
  std::map<std::pair<const config::Acl*, Side>, std::shared_ptr<const CompiledAcl>> cache_;
};

CompiledCondition compile(const config::Condition& condition, Side side = Side::request);

// For runtime/compile to report at -c time: what compiling `test` would throw, or "".
std::string check(const config::AclTest& test, Side side = Side::request);

// The match method a test uses once HAProxy's defaults apply. Throws CompileError.
MatchMethod effective_method(const config::AclTest& test, const SampleSpec& spec);

}  // namespace sluice::rules
