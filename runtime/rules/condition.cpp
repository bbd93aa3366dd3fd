#include "runtime/rules/condition.hpp"

namespace sluice::rules {

namespace {

Verdict operator&(Verdict a, Verdict b) {
  return static_cast<Verdict>(static_cast<unsigned>(a) & static_cast<unsigned>(b));
}
Verdict operator|(Verdict a, Verdict b) {
  return static_cast<Verdict>(static_cast<unsigned>(a) | static_cast<unsigned>(b));
}
Verdict negate(Verdict v) {
  return v == Verdict::pass ? Verdict::fail : v == Verdict::fail ? Verdict::pass : v;
}

std::string_view method_name(MatchMethod m) {
  constexpr std::string_view names[] = {"found", "bool", "int", "len", "ip",  "str", "beg",
                                        "end",   "sub",  "dir", "dom", "reg", "str"};
  return names[static_cast<std::size_t>(m)];
}

CompiledTest compile_test(const config::AclTest& test, Side side) {
  SampleSpec spec = SampleSpec::compile(test.sample, side, true);
  MatchMethod method = effective_method(test, spec);
  Matcher matcher(method, test);
  return CompiledTest(std::move(spec), std::move(matcher));
}

}  // namespace

MatchMethod effective_method(const config::AclTest& test, const SampleSpec& spec) {
  using M = config::Match;
  const FetchInfo* info = find_fetch(test.sample.fetch);
  M match = test.match;
  // A converter after an ACL keyword (hdr_beg) drops the keyword's implied match: the last
  // converter's output type decides (configuration.txt 7.1). config::AclTest cannot tell an
  // implied method from the same method given with -m, so `path_beg,lower -m beg` matches
  // as str here where HAProxy keeps beg.
  if (spec.converted() && info != nullptr && info->implied != M::none && match == info->implied)
    match = M::none;
  if (match == M::none) {
    switch (spec.type()) {
      case SampleType::boolean:
        return MatchMethod::boolean;
      case SampleType::integer:
        return MatchMethod::integer;
      case SampleType::address:
        return MatchMethod::ip;
      case SampleType::text:
        return MatchMethod::str;
      case SampleType::method:
        return MatchMethod::method;
      case SampleType::binary:
        break;
    }
    throw CompileError(
        "matching method must be specified first (using '-m') when using a sample fetch of "
        "this type ('" +
        test.sample.fetch + "')");
  }
  // Indexed by config::Match, whose order is none str beg end sub reg found len ip int bool
  // dir dom.
  static_assert(static_cast<int>(M::str) == 1 && static_cast<int>(M::found) == 6 &&
                static_cast<int>(M::integer) == 9 && static_cast<int>(M::dom) == 12);
  constexpr MatchMethod by_config[] = {MatchMethod::str,     MatchMethod::str,     MatchMethod::beg,
                                       MatchMethod::end,     MatchMethod::sub,     MatchMethod::reg,
                                       MatchMethod::found,   MatchMethod::len,     MatchMethod::ip,
                                       MatchMethod::integer, MatchMethod::boolean, MatchMethod::dir,
                                       MatchMethod::dom};
  const MatchMethod method = by_config[static_cast<int>(match)];
  // HAProxy refuses a method the sample cannot be cast for (sample_casts[][] is empty):
  // methods and binary have no integer, methods and booleans no address.
  const SampleType type = spec.type();
  const bool numeric = method == MatchMethod::integer || method == MatchMethod::boolean;
  if ((numeric && (type == SampleType::method || type == SampleType::binary)) ||
      (method == MatchMethod::ip && (type == SampleType::method || type == SampleType::boolean)))
    throw CompileError("matching method '" + std::string(method_name(method)) +
                       "' cannot be used with fetch keyword '" + test.sample.fetch + "'");
  return method;
}

Verdict CompiledTest::evaluate(Facts& facts, std::span<char> scratch, bool final) const {
  bool produced = false;
  if (for_each_value(spec_, facts, scratch, produced,
                     [&](const Value& v) { return matcher_.matches(v); }))
    return Verdict::pass;
  if (!produced && !final && spec_.source() == Source::facts && facts.may_change(spec_.id()))
    return Verdict::miss;
  return Verdict::fail;
}

Verdict CompiledAcl::evaluate(Facts& facts, std::span<char> scratch, bool final) const {
  Verdict result = Verdict::fail;
  for (const auto& test : tests_) {
    result = result | test.evaluate(facts, scratch, final);
    if (result == Verdict::pass) break;
  }
  return result;
}

// acl_exec_cond(): a group stops at its first failing term, the condition at its first
// passing group.
Verdict CompiledCondition::evaluate(Facts& facts, std::span<char> scratch, bool final) const {
  Verdict result = Verdict::fail;
  for (const auto& group : any_of_) {
    Verdict group_result = Verdict::pass;
    for (const auto& term : group) {
      Verdict v = term.acl->evaluate(facts, scratch, final);
      group_result = group_result & (term.negated ? negate(v) : v);
      if (group_result == Verdict::fail) break;
    }
    result = result | group_result;
    if (result == Verdict::pass) break;
  }
  return unless_ ? negate(result) : result;
}

std::shared_ptr<const CompiledAcl> Compiler::acl(const config::Acl& acl, Side side) {
  auto key = std::make_pair(&acl, side);
  if (auto it = cache_.find(key); it != cache_.end()) return it->second;
  std::vector<CompiledTest> tests;
  tests.reserve(acl.tests.size());
  for (const auto& test : acl.tests)
    tests.push_back(compile_test(test, side));
  auto compiled = std::make_shared<const CompiledAcl>(std::move(tests));
  cache_.emplace(key, compiled);
  return compiled;
}

CompiledCondition Compiler::condition(const config::Condition& condition, Side side) {
  std::vector<std::vector<CompiledCondition::Term>> any_of;
  any_of.reserve(condition.any_of.size());
  for (const auto& group : condition.any_of) {
    auto& terms = any_of.emplace_back();
    for (const auto& term : group) {
      if (!term.acl) throw CompileError("condition term without an ACL");
      terms.push_back({term.negated, acl(*term.acl, side)});
    }
  }
  return CompiledCondition(std::move(any_of), condition.unless);
}

CompiledCondition compile(const config::Condition& condition, Side side) {
  Compiler compiler;
  return compiler.condition(condition, side);
}

std::string check(const config::AclTest& test, Side side) {
  try {
    compile_test(test, side);
  } catch (const CompileError& e) {
    return e.what();
  }
  return {};
}

}  // namespace sluice::rules
