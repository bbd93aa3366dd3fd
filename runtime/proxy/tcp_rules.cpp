#include "runtime/proxy/tcp_rules.hpp"

namespace sluice::proxy {

TcpVerdict run_tcp_rules(std::span<const TcpRule> rules, rules::Facts& facts,
                         std::span<char> scratch, bool final) {
  for (const TcpRule& rule : rules) {
    if (rule.condition) {
      const rules::Verdict v = rule.condition->evaluate(facts, scratch, final);
      if (v == rules::Verdict::miss) return TcpVerdict::undecided;
      if (v == rules::Verdict::fail) continue;
    }
    return rule.accept ? TcpVerdict::accept : TcpVerdict::reject;
  }
  return TcpVerdict::accept;
}

std::vector<TcpRule> compile_tcp_rules(const std::vector<config::TcpRule>& rules,
                                       bool content_layer, rules::Compiler& compiler) {
  std::vector<TcpRule> out;
  for (const auto& rule : rules) {
    if (rule.content_layer != content_layer) continue;
    TcpRule r{rule.accept, std::nullopt};
    if (rule.condition) r.condition = compiler.condition(*rule.condition, rules::Side::request);
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace sluice::proxy
