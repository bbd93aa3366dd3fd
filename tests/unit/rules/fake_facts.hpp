// A scripted Facts for the rules tests: fetch values, headers and log variables set by hand.
#pragma once

#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "runtime/config/config.hpp"
#include "runtime/rules/condition.hpp"
#include "runtime/rules/facts.hpp"

namespace sluice::rules::testing {

struct FakeFacts : Facts {
  std::map<FetchId, Value> values;
  std::map<LogVar, Value> vars;
  std::vector<HeaderField> request_headers, response_headers;
  bool http_request = true;
  bool http_response = false;
  std::set<FetchId> pending;
  std::vector<std::vector<std::string>> seen_args;
  int fetch_calls = 0;

  // Keeps the strings the views above point to.
  std::string_view keep(std::string s) { return storage_.emplace_back(std::move(s)); }
  void text(FetchId id, std::string s) { values[id] = Value::text_of(keep(std::move(s))); }
  void url(std::string s) { text(FetchId::url, std::move(s)); }
  void header(std::string name, std::string value) {
    request_headers.push_back({keep(std::move(name)), keep(std::move(value))});
  }
  void response_header(std::string name, std::string value) {
    http_response = true;
    response_headers.push_back({keep(std::move(name)), keep(std::move(value))});
  }

  Value fetch(FetchId id, std::span<const std::string_view> args) override {
    ++fetch_calls;
    seen_args.emplace_back(args.begin(), args.end());
    auto it = values.find(id);
    return it == values.end() ? Value{} : it->second;
  }
  std::optional<std::size_t> header_count(Message m) override {
    if (!(m == Message::request ? http_request : http_response)) return std::nullopt;
    return (m == Message::request ? request_headers : response_headers).size();
  }
  HeaderField header(Message m, std::size_t i) override {
    return (m == Message::request ? request_headers : response_headers).at(i);
  }
  Value log_var(LogVar v) override {
    auto it = vars.find(v);
    return it == vars.end() ? Value{} : it->second;
  }
  bool may_change(FetchId id) override { return pending.count(id) != 0; }

 private:
  std::deque<std::string> storage_;
};

// An ACL test as runtime/compile builds it: derived names carry their implied method.
inline config::AclTest acl_test(std::string fetch, std::vector<std::string> args,
                                config::Match match, std::vector<std::string> patterns,
                                bool ignore_case = false, config::IntOp op = config::IntOp::none,
                                std::vector<std::string> converters = {}) {
  config::AclTest t;
  t.sample = {std::move(fetch), std::move(args), std::move(converters)};
  t.match = match;
  t.ignore_case = ignore_case;
  t.op = op;
  t.patterns = std::move(patterns);
  return t;
}

inline std::shared_ptr<const config::Acl> acl_of(std::vector<config::AclTest> tests,
                                                 std::string name = {}) {
  auto acl = std::make_shared<config::Acl>();
  acl->name = std::move(name);
  acl->tests = std::move(tests);
  return acl;
}

// `if A` for one test.
inline config::Condition condition_of(config::AclTest t, bool negated = false,
                                      bool unless = false) {
  config::Condition c;
  c.unless = unless;
  c.any_of.push_back({{negated, acl_of({std::move(t)})}});
  return c;
}

inline bool matches(const config::AclTest& t, Facts& facts, Side side = Side::request,
                    bool negated = false) {
  static char scratch[16384];
  return compile(condition_of(t, negated), side).matches(facts, scratch);
}

}  // namespace sluice::rules::testing
