// A PCRE2 regular expression compiled once (JIT when available) and matched without
// allocating: match data is per thread. Options are HAProxy's (-i: caseless; no capture
// groups for ACLs, \0-\9 for rewriting actions). Knows nothing of samples or ACLs.
#pragma once

#include <array>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace sluice::rules {

class Regex {
 public:
  // Throws CompileError with PCRE2's message and offset.
  Regex(const std::string& pattern, bool ignore_case);
  // `captures`: number the groups for search() (replace-header's back-references); ACL
  // regexes leave them off, as HAProxy does, so matching records nothing.
  Regex(const std::string& pattern, bool ignore_case, bool captures);
  bool matches(std::string_view subject) const;

  // HAProxy's back-references go from \0 (the whole match) to \9.
  static constexpr std::size_t max_groups = 10;
  struct Span {
    static constexpr std::size_t unset = std::string_view::npos;
    std::size_t begin = unset;  // offsets into the subject; unset: the group took no part
    std::size_t end = unset;
  };
  using Groups = std::array<Span, max_groups>;
  // Looks for a match anywhere in `subject` (unanchored, as HAProxy's rewriting actions do)
  // and fills `groups` (groups past the pattern's, or past \9, are unset). Without
  // `captures` only groups[0] is filled. No allocation: the match data is per thread.
  bool search(std::string_view subject, Groups& groups) const;
  const std::string& pattern() const { return pattern_; }

 private:
  struct Code;
  std::shared_ptr<const Code> code_;  // immutable, shared by copies
  std::string pattern_;
};

}  // namespace sluice::rules
