// An ACL test's patterns compiled once for its match method (HAProxy's pattern.c): exact
// strings in a hash set, prefixes and suffixes by length, integer ranges, IPv4/IPv6 networks,
// regexes, HTTP methods. Matches one sample value without allocating. Knows nothing of
// fetches or conditions.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/config/config.hpp"
#include "runtime/rules/facts.hpp"
#include "runtime/rules/regex.hpp"

namespace sluice::rules {

// The method a test really uses once defaults apply (HAProxy's PAT_MATCH_*), plus `method`:
// the default for the `method` fetch, which compares well-known methods exactly.
enum class MatchMethod : std::uint8_t {
  found,
  boolean,
  integer,
  len,
  ip,
  str,
  beg,
  end,
  sub,
  dir,
  dom,
  reg,
  method
};

// Exact strings with O(1) lookup; -i folds ASCII case on both sides, so no copy per lookup.
class StringSet {
 public:
  StringSet() = default;
  StringSet(std::vector<std::string> items, bool ignore_case);
  bool contains(std::string_view s) const;
  bool empty() const { return items_.empty(); }
  std::size_t size() const { return items_.size(); }

 private:
  std::vector<std::string> items_;
  std::vector<std::uint32_t> slots_;  // 1 + index into items_; 0 = free
  std::size_t mask_ = 0;
  bool ignore_case_ = false;
};

struct IntRange {
  std::int64_t min = 0, max = 0;
  bool has_min = false, has_max = false;
  bool contains(std::int64_t v) const { return (!has_min || min <= v) && (!has_max || v <= max); }
};

// Parses an integer pattern as HAProxy 2.6 does: `N`, `N:M`, `:M`, `N:`, and the same with
// '-' as the separator ("-5" is ":5"). The operator rewrites a plain value (gt 5 -> 6:).
IntRange parse_int_pattern(std::string_view text, config::IntOp op);

struct IpNet {
  bool v6 = false;
  std::array<std::uint8_t, 16> addr{};  // masked, network order
  std::uint32_t v4_mask = 0;            // host order, any (even non-contiguous) dotted mask
  int v6_prefix = 128;
  bool contains(const IpAddress& a) const;
};

// `addr[/mask]`: IPv4 with a bit count or a dotted mask (short forms such as 10.1 as
// inet_aton reads them), IPv6 with a bit count. Throws CompileError.
IpNet parse_ip_pattern(std::string_view text);

// HAProxy's str2ip for a sample cast: dotted-quad IPv4 or IPv6 text.
bool parse_ip_text(std::string_view text, IpAddress& out);

class Matcher {
 public:
  // Throws CompileError on a pattern HAProxy would refuse.
  Matcher(MatchMethod method, const config::AclTest& test);
  bool matches(const Value& value) const;
  MatchMethod method() const { return method_; }

 private:
  bool match_text(std::string_view s) const;

  MatchMethod method_;
  bool ignore_case_;
  std::vector<std::string> strings_;
  StringSet set_;                     // str; beg/end when many
  std::vector<std::size_t> lengths_;  // beg/end: distinct pattern lengths, ascending
  std::vector<IntRange> ranges_;
  std::vector<IpNet> nets_;
  std::vector<Regex> regexes_;
  std::vector<bool> known_methods_;  // method: per pattern, a method HAProxy knows by name
};

}  // namespace sluice::rules
