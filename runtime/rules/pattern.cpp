#include "runtime/rules/pattern.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <limits>
#include <optional>

#include "runtime/rules/fetch.hpp"

namespace sluice::rules {

namespace {

constexpr char lower(char c) {
  return c >= 'A' && c <= 'Z' ? char(c + 32) : c;
}

std::string lowered(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), lower);
  return s;
}

// `pattern` is already lower-cased when `ignore_case`.
bool equal(std::string_view s, std::string_view pattern, bool ignore_case) {
  if (s.size() != pattern.size()) return false;
  if (!ignore_case) return s.empty() || std::memcmp(s.data(), pattern.data(), s.size()) == 0;
  for (std::size_t i = 0; i < s.size(); ++i)
    if (lower(s[i]) != pattern[i]) return false;
  return true;
}

bool contains_sub(std::string_view s, std::string_view pattern, bool ignore_case) {
  if (!ignore_case) return s.find(pattern) != std::string_view::npos;
  if (pattern.size() > s.size()) return false;
  for (std::size_t i = 0; i + pattern.size() <= s.size(); ++i)
    if (lower(s[i]) == pattern[0] && equal(s.substr(i, pattern.size()), pattern, true)) return true;
  return false;
}

// HAProxy's match_word(): `pattern` (its own leading and trailing delimiters ignored) must
// appear in `s` between delimiters or the ends of `s`. An empty word never matches.
bool match_word(std::string_view s, std::string_view pattern, bool ignore_case,
                std::string_view delimiters) {
  auto delim = [&](char c) { return delimiters.find(c) != std::string_view::npos; };
  while (!pattern.empty() && delim(pattern.front()))
    pattern.remove_prefix(1);
  while (!pattern.empty() && delim(pattern.back()))
    pattern.remove_suffix(1);
  if (pattern.empty() || pattern.size() > s.size()) return false;
  bool may_match = true;
  const std::size_t last = s.size() - pattern.size();
  for (std::size_t c = 0; c <= last; ++c) {
    if (delim(s[c])) {
      may_match = true;
      continue;
    }
    if (!may_match) continue;
    if (equal(s.substr(c, pattern.size()), pattern, ignore_case) &&
        (c == last || delim(s[c + pattern.size()])))
      return true;
    may_match = false;
  }
  return false;
}

std::uint64_t hash(std::string_view s, bool ignore_case) {
  std::uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a
  for (char c : s) {
    h ^= static_cast<unsigned char>(ignore_case ? lower(c) : c);
    h *= 0x100000001b3ULL;
  }
  return h ^ (h >> 29);
}

// HAProxy's strl2llrc(): the whole text is one decimal integer, optionally negative.
std::optional<std::int64_t> strict_integer(std::string_view text) {
  std::int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return v;
}

std::int64_t require_integer(std::string_view text, std::string_view whole) {
  auto v = strict_integer(text);
  if (!v) throw CompileError("'" + std::string(whole) + "' is not a valid number range");
  return *v;
}

// HAProxy's read_int64() as used by the string-to-integer cast: an optional sign, then the
// leading digits; anything after them is ignored, overflow saturates.
std::int64_t leading_integer(std::string_view s) {
  bool negative = false;
  std::size_t i = 0;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) negative = s[i++] == '-';
  std::uint64_t v = 0;
  constexpr auto max = std::numeric_limits<std::uint64_t>::max();
  for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) {
    unsigned d = static_cast<unsigned>(s[i] - '0');
    v = v > (max - d) / 10 ? max : v * 10 + d;
  }
  if (negative) {
    if (v > 0x8000000000000000ULL) return std::numeric_limits<std::int64_t>::min();
    return static_cast<std::int64_t>(0 - v);
  }
  if (v > 0x7fffffffffffffffULL) return std::numeric_limits<std::int64_t>::max();
  return static_cast<std::int64_t>(v);
}

// Sample casts (HAProxy's sample_casts[][]): what a value becomes for the match method.
std::optional<std::int64_t> as_integer(const Value& v) {
  switch (v.type) {
    case Value::Type::boolean:
    case Value::Type::integer:
      return v.integer;
    case Value::Type::address:
      if (v.address.v6) return std::nullopt;
      return static_cast<std::int64_t>(v.address.v4_host_order());
    case Value::Type::text:
      if (v.text.empty()) return std::nullopt;
      return leading_integer(v.text);
    default:
      return std::nullopt;
  }
}

bool as_address(const Value& v, IpAddress& out) {
  switch (v.type) {
    case Value::Type::address:
      out = v.address;
      return true;
    case Value::Type::integer:
      out = IpAddress::v4(static_cast<std::uint32_t>(v.integer));
      return true;
    case Value::Type::text:
      return parse_ip_text(v.text, out);
    default:
      return false;
  }
}

// `buf` holds integers and addresses written as text.
std::optional<std::string_view> as_text(const Value& v, std::span<char, 64> buf) {
  if (v.type == Value::Type::text) return v.text;
  if (v.type == Value::Type::binary) return v.text.substr(0, v.text.find('\0'));  // c_bin2str
  std::size_t n = value_text(v, buf);
  if (v.type == Value::Type::none || n == std::string_view::npos) return std::nullopt;
  return std::string_view(buf.data(), n);
}

// HAProxy 2.6's http_known_methods: a pattern naming one of these matches that method only,
// exactly; any other pattern compares as a string, honouring -i.
constexpr std::string_view known_methods[] = {"OPTIONS", "GET",    "HEAD",  "POST",
                                              "PUT",     "DELETE", "TRACE", "CONNECT"};

bool is_known_method(std::string_view m) {
  return std::find(std::begin(known_methods), std::end(known_methods), m) !=
         std::end(known_methods);
}

}  // namespace

StringSet::StringSet(std::vector<std::string> items, bool ignore_case) : ignore_case_(ignore_case) {
  if (ignore_case)
    for (auto& s : items)
      s = lowered(std::move(s));
  std::sort(items.begin(), items.end());
  items.erase(std::unique(items.begin(), items.end()), items.end());
  items_ = std::move(items);
  std::size_t capacity = 8;
  while (capacity < items_.size() * 2)
    capacity *= 2;
  slots_.assign(capacity, 0);
  mask_ = capacity - 1;
  for (std::size_t i = 0; i < items_.size(); ++i) {
    std::size_t slot = hash(items_[i], false) & mask_;
    while (slots_[slot] != 0)
      slot = (slot + 1) & mask_;
    slots_[slot] = static_cast<std::uint32_t>(i + 1);
  }
}

bool StringSet::contains(std::string_view s) const {
  // A few strings compare faster than they hash: most differ in length already.
  if (items_.size() <= 4) {
    for (const auto& item : items_)
      if (equal(s, item, ignore_case_)) return true;
    return false;
  }
  for (std::size_t slot = hash(s, ignore_case_) & mask_;; slot = (slot + 1) & mask_) {
    std::uint32_t entry = slots_[slot];
    if (entry == 0) return false;
    if (equal(s, items_[entry - 1], ignore_case_)) return true;
  }
}

IntRange parse_int_pattern(std::string_view text, config::IntOp op) {
  const bool plain = text.find_first_of(":-") == std::string_view::npos;
  if (plain && op != config::IntOp::none && op != config::IntOp::eq) {
    // acl.c rewrites "gt 5" as "6:" and "lt 5" as ":4" before parsing the range.
    std::int64_t v = require_integer(text.substr(0, text.find('.')), text);
    IntRange r;
    switch (op) {
      case config::IntOp::gt:
        r.min = v + 1, r.has_min = true;
        break;
      case config::IntOp::ge:
        r.min = v, r.has_min = true;
        break;
      case config::IntOp::lt:
        r.max = v - 1, r.has_max = true;
        break;
      default:
        r.max = v, r.has_max = true;
        break;
    }
    return r;
  }
  if (text.empty()) throw CompileError("empty integer pattern");
  IntRange r;
  const std::size_t sep = text.find_first_of(":-");
  if (sep == std::string_view::npos) {
    r.min = r.max = require_integer(text, text);
    r.has_min = r.has_max = true;
  } else if (sep == 0 && text.size() > 1) {
    r.max = require_integer(text.substr(1), text);
    r.has_max = true;
  } else if (sep + 1 == text.size()) {
    r.min = require_integer(text.substr(0, sep), text);
    r.has_min = true;
  } else {
    r.min = require_integer(text.substr(0, sep), text);
    r.max = require_integer(text.substr(sep + 1), text);
    r.has_min = r.has_max = true;
    if (r.min > r.max)
      throw CompileError("'" + std::string(text) + "' is not a valid number range");
  }
  return r;
}

bool parse_ip_text(std::string_view text, IpAddress& out) {
  char buf[INET6_ADDRSTRLEN + 1];
  if (text.size() >= sizeof buf) return false;
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  std::uint8_t bytes[16];
  if (inet_pton(AF_INET, buf, bytes) == 1) {
    out = IpAddress{};
    std::memcpy(out.bytes.data(), bytes, 4);
    return true;
  }
  if (inet_pton(AF_INET6, buf, bytes) == 1) {
    out = IpAddress{};
    out.v6 = true;
    std::memcpy(out.bytes.data(), bytes, 16);
    return true;
  }
  return false;
}

IpNet parse_ip_pattern(std::string_view text) {
  const std::string whole(text);
  auto fail = [&]() -> IpNet {
    throw CompileError("'" + whole + "' is not a valid IPv4 or IPv6 address");
  };
  std::string addr = whole, mask;
  if (auto slash = whole.rfind('/'); slash != std::string::npos) {
    addr = whole.substr(0, slash);
    mask = whole.substr(slash + 1);
  }
  IpNet net;
  in_addr a4{};
  // inet_aton also reads HAProxy's short forms ("10.1" is 10.0.0.1), which it resolves as
  // host names; sluice never resolves names in patterns.
  if (addr.find(':') == std::string::npos && inet_aton(addr.c_str(), &a4) != 0) {
    std::uint32_t host = ntohl(a4.s_addr);
    std::uint32_t m = 0xffffffffU;
    if (!mask.empty()) {
      if (mask.find('.') != std::string::npos) {
        in_addr dotted{};
        if (inet_pton(AF_INET, mask.c_str(), &dotted) != 1) return fail();
        m = ntohl(dotted.s_addr);
      } else {
        auto bits = strict_integer(mask);
        if (!bits || *bits < 0 || *bits > 32) return fail();
        m = *bits == 0 ? 0 : 0xffffffffU << (32 - *bits);
      }
    } else if (whole.find('/') != std::string::npos) {
      return fail();
    }
    net.v4_mask = m;
    IpAddress masked = IpAddress::v4(host & m);
    net.addr = masked.bytes;
    return net;
  }
  in6_addr a6{};
  if (inet_pton(AF_INET6, addr.c_str(), &a6) != 1) return fail();
  net.v6 = true;
  if (whole.find('/') != std::string::npos) {
    auto bits = strict_integer(mask);
    if (!bits || *bits < 0 || *bits > 128) return fail();
    net.v6_prefix = static_cast<int>(*bits);
  }
  std::memcpy(net.addr.data(), &a6, 16);
  for (int i = 0; i < 16; ++i) {
    int keep = std::clamp(net.v6_prefix - i * 8, 0, 8);
    net.addr[i] &= static_cast<std::uint8_t>(keep == 0 ? 0 : 0xff << (8 - keep));
  }
  return net;
}

// pat_match_ip(): an IPv4 network also matches ::ffff:a.b.c.d, ::a.b.c.d and 2002:AABB:CCDD::
// samples; an IPv6 network sees an IPv4 sample as ::ffff:a.b.c.d.
bool IpNet::contains(const IpAddress& a) const {
  if (!v6) {
    std::uint32_t v4;
    if (!a.v6) {
      v4 = a.v4_host_order();
    } else {
      const auto& b = a.bytes;
      const bool low64_zero = std::all_of(b.begin(), b.begin() + 8, [](auto x) { return x == 0; });
      const bool compat = b[8] == 0 && b[9] == 0 && b[10] == 0 && b[11] == 0;
      const bool mapped = b[8] == 0 && b[9] == 0 && b[10] == 0xff && b[11] == 0xff;
      std::size_t at;
      if (low64_zero && (compat || mapped))
        at = 12;
      else if (b[0] == 0x20 && b[1] == 0x02)
        at = 2;
      else
        return false;
      v4 = std::uint32_t(b[at]) << 24 | std::uint32_t(b[at + 1]) << 16 |
           std::uint32_t(b[at + 2]) << 8 | b[at + 3];
    }
    IpAddress net = IpAddress::v4(0);
    net.bytes = addr;
    return ((v4 ^ net.v4_host_order()) & v4_mask) == 0;
  }
  std::array<std::uint8_t, 16> b = a.bytes;
  if (!a.v6)
    b = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, a.bytes[0], a.bytes[1], a.bytes[2], a.bytes[3]};
  for (int i = 0; i < 16; ++i) {
    int keep = std::clamp(v6_prefix - i * 8, 0, 8);
    if (keep == 0) break;
    auto m = static_cast<std::uint8_t>(0xff << (8 - keep));
    if ((b[i] & m) != addr[i]) return false;
  }
  return true;
}

Matcher::Matcher(MatchMethod method, const config::AclTest& test)
    : method_(method), ignore_case_(test.ignore_case) {
  const auto& patterns = test.patterns;
  switch (method) {
    case MatchMethod::found:
    case MatchMethod::boolean:
      break;  // HAProxy ignores any pattern given
    case MatchMethod::integer:
    case MatchMethod::len:
      for (const auto& p : patterns)
        ranges_.push_back(parse_int_pattern(p, test.op));
      break;
    case MatchMethod::ip:
      for (const auto& p : patterns)
        nets_.push_back(parse_ip_pattern(p));
      break;
    case MatchMethod::str:
      set_ = StringSet(patterns, ignore_case_);
      break;
    case MatchMethod::beg:
    case MatchMethod::end:
      for (const auto& p : patterns)
        strings_.push_back(ignore_case_ ? lowered(p) : p);
      // Many prefixes or suffixes (a -f file): one hash probe per distinct length.
      if (strings_.size() > 8) {
        for (const auto& s : strings_)
          lengths_.push_back(s.size());
        std::sort(lengths_.begin(), lengths_.end());
        lengths_.erase(std::unique(lengths_.begin(), lengths_.end()), lengths_.end());
        set_ = StringSet(strings_, ignore_case_);
        strings_.clear();
      }
      break;
    case MatchMethod::sub:
    case MatchMethod::dir:
    case MatchMethod::dom:
      for (const auto& p : patterns)
        strings_.push_back(ignore_case_ ? lowered(p) : p);
      break;
    case MatchMethod::reg:
      regexes_.reserve(patterns.size());
      for (const auto& p : patterns)
        regexes_.emplace_back(p, ignore_case_);
      break;
    case MatchMethod::method:
      for (const auto& p : patterns) {
        known_methods_.push_back(is_known_method(p));
        strings_.push_back(ignore_case_ && !known_methods_.back() ? lowered(p) : p);
      }
      break;
  }
}

bool Matcher::matches(const Value& value) const {
  if (!value) return false;
  std::array<char, 64> buf;
  switch (method_) {
    case MatchMethod::found:
      return true;
    case MatchMethod::boolean: {
      auto v = as_integer(value);
      return v && *v != 0;
    }
    case MatchMethod::integer: {
      auto v = as_integer(value);
      return v && std::any_of(ranges_.begin(), ranges_.end(),
                              [&](const IntRange& r) { return r.contains(*v); });
    }
    case MatchMethod::len: {
      auto t = as_text(value, buf);
      if (!t) return false;
      auto n = static_cast<std::int64_t>(t->size());
      return std::any_of(ranges_.begin(), ranges_.end(),
                         [&](const IntRange& r) { return r.contains(n); });
    }
    case MatchMethod::ip: {
      IpAddress a;
      if (!as_address(value, a)) return false;
      return std::any_of(nets_.begin(), nets_.end(),
                         [&](const IpNet& net) { return net.contains(a); });
    }
    case MatchMethod::method: {
      if (value.type != Value::Type::text) return false;
      const bool known = is_known_method(value.text);
      for (std::size_t i = 0; i < strings_.size(); ++i) {
        if (known_methods_[i] ? value.text == strings_[i]
                              : !known && equal(value.text, strings_[i], ignore_case_))
          return true;
      }
      return false;
    }
    default: {
      auto t = as_text(value, buf);
      return t && match_text(*t);
    }
  }
}

bool Matcher::match_text(std::string_view s) const {
  switch (method_) {
    case MatchMethod::str:
      return set_.contains(s);
    case MatchMethod::beg:
      if (!set_.empty()) {
        for (std::size_t n : lengths_) {
          if (n > s.size()) break;
          if (set_.contains(s.substr(0, n))) return true;
        }
        return false;
      }
      return std::any_of(strings_.begin(), strings_.end(), [&](const std::string& p) {
        return p.size() <= s.size() && equal(s.substr(0, p.size()), p, ignore_case_);
      });
    case MatchMethod::end:
      if (!set_.empty()) {
        for (std::size_t n : lengths_) {
          if (n > s.size()) break;
          if (set_.contains(s.substr(s.size() - n))) return true;
        }
        return false;
      }
      return std::any_of(strings_.begin(), strings_.end(), [&](const std::string& p) {
        return p.size() <= s.size() && equal(s.substr(s.size() - p.size()), p, ignore_case_);
      });
    case MatchMethod::sub:
      return std::any_of(strings_.begin(), strings_.end(),
                         [&](const std::string& p) { return contains_sub(s, p, ignore_case_); });
    case MatchMethod::dir:
      return std::any_of(strings_.begin(), strings_.end(), [&](const std::string& p) {
        return match_word(s, p, ignore_case_, "/?");
      });
    case MatchMethod::dom:
      return std::any_of(strings_.begin(), strings_.end(), [&](const std::string& p) {
        return match_word(s, p, ignore_case_, "/?.:");
      });
    case MatchMethod::reg:
      return std::any_of(regexes_.begin(), regexes_.end(),
                         [&](const Regex& r) { return r.matches(s); });
    default:
      return false;
  }
}

}  // namespace sluice::rules
