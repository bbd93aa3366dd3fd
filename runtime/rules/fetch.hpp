// Sample fetches resolved once: a config::Sample becomes a SampleSpec (fetch id, arguments
// split, header name and occurrence parsed, converters folded), and produces values at
// request time with HAProxy's semantics (comma-split header values, path/query/base cut from
// the URL). Reads only through Facts; knows nothing of matching or of the HTTP codec.
#pragma once

#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/config/config.hpp"
#include "runtime/rules/facts.hpp"

namespace sluice::rules {

// A configuration the parser accepted but HAProxy would refuse (a bad regex, a binary fetch
// without -m...). Thrown at worker start only, never while serving.
class CompileError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Output type of a fetch, before converters (HAProxy's SMP_T_*).
enum class SampleType : std::uint8_t { boolean, integer, address, text, binary, method };

// Where a rule runs: in a response rule an ACL cannot read the request (HAProxy: "acl will
// never match"), and a bare `hdr` in a format string reads the response.
enum class Side : std::uint8_t { request, response };

enum class CaseFold : std::uint8_t { none, lower, upper };

struct FetchInfo {
  std::string_view name;
  FetchId id;
  SampleType type;
  config::Match implied;  // ACL-derived names: hdr_beg -> beg
  bool request_only;
  bool response_only;
};

// The entry for a fetch name as written (`hdr_beg`, `shdr`), or nullptr.
const FetchInfo* find_fetch(std::string_view name);

// A fetch's arguments, owned and viewed; views stay valid when the list is moved.
class ArgList {
 public:
  ArgList() = default;
  explicit ArgList(std::vector<std::string> args);
  ArgList(ArgList&&) noexcept = default;
  ArgList& operator=(ArgList&&) noexcept = default;
  ArgList(const ArgList&) = delete;
  ArgList& operator=(const ArgList&) = delete;
  std::span<const std::string_view> views() const { return views_; }

 private:
  std::vector<std::string> owned_;
  std::vector<std::string_view> views_;
};

// How a SampleSpec produces values.
enum class Source : std::uint8_t {
  facts,       // Facts::fetch
  headers,     // values of header fields
  count,       // number of header values
  path,        // cut from url
  query,       // cut from url
  base,        // first Host value + path
  constant,    // str(), always_true, always_false
  unavailable  // never a sample: the other message's fetch in an ACL, `hdr` without (name)
};

class SampleSpec {
 public:
  // `acl`: evaluated by an ACL (headers iterate over every value) rather than rendered (one
  // value: the last unless an occurrence is given). Throws CompileError.
  static SampleSpec compile(const config::Sample& sample, Side side, bool acl);

  FetchId id() const { return id_; }
  // The type a match sees: text once any converter applied.
  SampleType type() const { return type_; }
  SampleType fetch_type() const { return fetch_type_; }
  bool converted() const { return converted_; }
  CaseFold fold() const { return fold_; }
  Source source() const { return source_; }
  Message message() const { return message_; }
  std::string_view header_name() const { return header_name_; }
  // 0: every value (ACL); >0 from the first; <0 from the last.
  int occurrence() const { return occurrence_; }
  std::span<const std::string_view> args() const { return args_.views(); }
  const Value& constant() const { return constant_; }
  // str(): kept as a string here, viewed at fetch time (a view stored now would dangle when
  // a short string moves with the spec).
  std::string_view constant_text() const { return constant_text_; }

 private:
  FetchId id_ = FetchId::always_false;
  SampleType type_ = SampleType::boolean;
  SampleType fetch_type_ = SampleType::boolean;
  bool converted_ = false;
  CaseFold fold_ = CaseFold::none;
  Source source_ = Source::constant;
  Message message_ = Message::request;
  std::string header_name_;
  int occurrence_ = 0;
  ArgList args_;
  std::string constant_text_;
  Value constant_;
};

// A produced sample before converters: `value`, and for `base` the path that follows the
// host in `tail` (kept apart so rendering needs no copy).
struct RawSample {
  Value value;
  std::string_view tail;
};

// HAProxy's http_get_path(): the part of a request target from its first '/', after any
// scheme://authority; empty when there is none ("*", authority form).
std::string_view path_of_url(std::string_view url);

// Splits a header field value into HAProxy's comma-separated values (quotes respected,
// linear whitespace trimmed, empty values kept).
class HeaderValues {
 public:
  explicit HeaderValues(std::string_view field) : field_(field) {}
  bool next(std::string_view& value);

 private:
  std::string_view field_;
  std::size_t pos_ = 0;
  bool started_ = false;
};

constexpr char ascii_lower(char c) {
  return c >= 'A' && c <= 'Z' ? char(c + 32) : c;
}

// Field names compare case-insensitively; most differ in length, so that goes first.
inline bool header_name_equals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  return true;
}

// A sample as text, the way HAProxy casts it to a string (integers in decimal, addresses as
// inet_ntop writes them, booleans "0"/"1", binary up to its first NUL byte). Returns the
// length written to `out`, or std::string_view::npos when `out` is too small.
std::size_t value_text(const Value& value, std::span<char> out);

// The one value a format string renders (or an ACL with an explicit occurrence sees).
RawSample fetch_one(const SampleSpec& spec, Facts& facts);

// Converts a raw sample for matching: joins `tail`, applies the converters' case folding into
// `scratch`. Value{} when `scratch` is too small (pass tune.bufsize: no sample can be larger).
Value materialize(const SampleSpec& spec, const RawSample& raw, std::span<char> scratch);

enum class Walk : std::uint8_t { no_message, stopped, finished };

// Calls `visit(const HeaderField&)` for each field of `message` until it returns true.
template <class Visit>
Walk for_each_field(Facts& facts, Message message, Visit&& visit) {
  auto count = facts.header_count(message);
  if (!count) return Walk::no_message;
  for (std::size_t i = 0; i < *count; ++i)
    if (visit(static_cast<const HeaderField&>(facts.header(message, i)))) return Walk::stopped;
  return Walk::finished;
}

// Calls `visit(const Value&)` for every value an ACL sees, converters applied, until it
// returns true. Returns whether it did; `produced` tells whether any value existed.
template <class Visit>
bool for_each_value(const SampleSpec& spec, Facts& facts, std::span<char> scratch, bool& produced,
                    Visit&& visit) {
  produced = false;
  if (spec.source() != Source::headers || spec.occurrence() != 0) {
    RawSample raw = fetch_one(spec, facts);
    if (!raw.value) return false;
    Value v = materialize(spec, raw, scratch);
    if (!v) return false;
    produced = true;
    return visit(static_cast<const Value&>(v));
  }
  const bool plain = spec.fold() == CaseFold::none;
  const std::string_view name = spec.header_name();
  Walk walk = for_each_field(facts, spec.message(), [&](const HeaderField& field) {
    if (!name.empty() && !header_name_equals(field.name, name)) return false;
    HeaderValues values(field.value);
    std::string_view text;
    while (values.next(text)) {
      Value v = Value::text_of(text);
      if (!plain) v = materialize(spec, RawSample{v, {}}, scratch);
      if (!v) continue;
      produced = true;
      if (visit(static_cast<const Value&>(v))) return true;
    }
    return false;
  });
  return walk == Walk::stopped;
}

}  // namespace sluice::rules
