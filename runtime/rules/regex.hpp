// A PCRE2 regular expression compiled once (JIT when available) and matched without
// allocating: match data is per thread. Options are HAProxy's (-i: caseless, no capture
// groups). Knows nothing of samples or ACLs.
#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace sluice::rules {

class Regex {
 public:
  // Throws CompileError with PCRE2's message and offset.
  Regex(const std::string& pattern, bool ignore_case);
  bool matches(std::string_view subject) const;
  const std::string& pattern() const { return pattern_; }

 private:
  struct Code;
  std::shared_ptr<const Code> code_;  // immutable, shared by copies
  std::string pattern_;
};

}  // namespace sluice::rules
