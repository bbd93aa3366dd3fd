#include "runtime/rules/fetch.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>

namespace sluice::rules {

namespace {

using T = SampleType;
using M = config::Match;
constexpr M none = M::none;

// The fetches the parser accepts (parser/sample.cpp), sorted by name. request_only and
// response_only say which message an ACL reads; `hdr` follows the rule's side in formats.
constexpr std::array fetch_table = std::to_array<FetchInfo>({
    {"always_false", FetchId::always_false, T::boolean, none, false, false},
    {"always_true", FetchId::always_true, T::boolean, none, false, false},
    {"base", FetchId::base, T::text, none, true, false},
    {"base_beg", FetchId::base, T::text, M::beg, true, false},
    {"base_dir", FetchId::base, T::text, M::dir, true, false},
    {"base_dom", FetchId::base, T::text, M::dom, true, false},
    {"base_end", FetchId::base, T::text, M::end, true, false},
    {"base_len", FetchId::base, T::text, M::len, true, false},
    {"base_reg", FetchId::base, T::text, M::reg, true, false},
    {"base_sub", FetchId::base, T::text, M::sub, true, false},
    {"dst", FetchId::dst, T::address, none, false, false},
    {"dst_port", FetchId::dst_port, T::integer, none, false, false},
    {"hdr", FetchId::hdr, T::text, none, true, false},
    {"hdr_beg", FetchId::hdr, T::text, M::beg, true, false},
    {"hdr_cnt", FetchId::req_hdr_cnt, T::integer, none, true, false},
    {"hdr_dir", FetchId::hdr, T::text, M::dir, true, false},
    {"hdr_dom", FetchId::hdr, T::text, M::dom, true, false},
    {"hdr_end", FetchId::hdr, T::text, M::end, true, false},
    {"hdr_len", FetchId::hdr, T::text, M::len, true, false},
    {"hdr_reg", FetchId::hdr, T::text, M::reg, true, false},
    {"hdr_sub", FetchId::hdr, T::text, M::sub, true, false},
    {"method", FetchId::method, T::method, none, false, false},
    {"nbsrv", FetchId::nbsrv, T::integer, none, false, false},
    {"path", FetchId::path, T::text, none, true, false},
    {"path_beg", FetchId::path, T::text, M::beg, true, false},
    {"path_dir", FetchId::path, T::text, M::dir, true, false},
    {"path_dom", FetchId::path, T::text, M::dom, true, false},
    {"path_end", FetchId::path, T::text, M::end, true, false},
    {"path_len", FetchId::path, T::text, M::len, true, false},
    {"path_reg", FetchId::path, T::text, M::reg, true, false},
    {"path_sub", FetchId::path, T::text, M::sub, true, false},
    {"query", FetchId::query, T::text, none, true, false},
    {"req.hdr", FetchId::req_hdr, T::text, none, true, false},
    {"req.hdr_cnt", FetchId::req_hdr_cnt, T::integer, none, true, false},
    {"req.ssl_hello_type", FetchId::req_ssl_hello_type, T::integer, none, true, false},
    {"req.ssl_sni", FetchId::req_ssl_sni, T::text, none, true, false},
    {"req_ssl_hello_type", FetchId::req_ssl_hello_type, T::integer, none, true, false},
    {"req_ssl_sni", FetchId::req_ssl_sni, T::text, none, true, false},
    {"res.hdr", FetchId::res_hdr, T::text, none, false, true},
    {"res.hdr_cnt", FetchId::res_hdr_cnt, T::integer, none, false, true},
    {"shdr", FetchId::res_hdr, T::text, none, false, true},
    {"src", FetchId::src, T::address, none, false, false},
    {"src_port", FetchId::src_port, T::integer, none, false, false},
    {"ssl_c_i_dn", FetchId::ssl_c_i_dn, T::text, none, false, false},
    {"ssl_c_notafter", FetchId::ssl_c_notafter, T::text, none, false, false},
    {"ssl_c_s_dn", FetchId::ssl_c_s_dn, T::text, none, false, false},
    {"ssl_c_serial", FetchId::ssl_c_serial, T::binary, none, false, false},
    {"ssl_c_used", FetchId::ssl_c_used, T::boolean, none, false, false},
    {"ssl_c_verify", FetchId::ssl_c_verify, T::integer, none, false, false},
    {"ssl_fc", FetchId::ssl_fc, T::boolean, none, false, false},
    {"ssl_fc_alpn", FetchId::ssl_fc_alpn, T::text, none, false, false},
    {"ssl_fc_cipher", FetchId::ssl_fc_cipher, T::text, none, false, false},
    {"ssl_fc_protocol", FetchId::ssl_fc_protocol, T::text, none, false, false},
    {"ssl_fc_sni", FetchId::ssl_fc_sni, T::text, none, false, false},
    {"ssl_fc_sni_end", FetchId::ssl_fc_sni, T::text, M::end, false, false},
    {"ssl_fc_sni_reg", FetchId::ssl_fc_sni, T::text, M::reg, false, false},
    {"status", FetchId::status, T::integer, none, false, true},
    {"str", FetchId::str, T::text, none, false, false},
    {"url", FetchId::url, T::text, none, true, false},
    {"url_beg", FetchId::url, T::text, M::beg, true, false},
    {"url_dir", FetchId::url, T::text, M::dir, true, false},
    {"url_dom", FetchId::url, T::text, M::dom, true, false},
    {"url_end", FetchId::url, T::text, M::end, true, false},
    {"url_len", FetchId::url, T::text, M::len, true, false},
    {"url_reg", FetchId::url, T::text, M::reg, true, false},
    {"url_sub", FetchId::url, T::text, M::sub, true, false},
});

static_assert(std::is_sorted(fetch_table.begin(), fetch_table.end(),
                             [](const FetchInfo& a, const FetchInfo& b) {
                               return a.name < b.name;
                             }),
              "find_fetch() binary-searches fetch_table");

// HAProxy keeps a history of the last 10 values for negative occurrences and fails beyond.
constexpr int max_header_history = 10;

constexpr bool is_lws(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

constexpr char lower(char c) {
  return ascii_lower(c);
}
constexpr char upper(char c) {
  return c >= 'a' && c <= 'z' ? char(c - 32) : c;
}

// HAProxy's http_find_hdr_value_end(): the first comma outside a quoted string. Most values
// hold no quote, so memchr finds the comma; the state machine runs only after a quote.
std::size_t value_end(std::string_view s, std::size_t from) {
  const char* begin = s.data() + from;
  const std::size_t n = s.size() - from;
  if (n == 0) return s.size();
  const void* comma = std::memchr(begin, ',', n);
  const std::size_t comma_at = comma ? static_cast<const char*>(comma) - begin : n;
  if (std::memchr(begin, '"', comma_at) == nullptr) return from + comma_at;
  bool quoted = false, escaped = false;
  for (std::size_t i = from; i < s.size(); ++i) {
    char c = s[i];
    if (escaped)
      escaped = false;
    else if (quoted) {
      if (c == '\\')
        escaped = true;
      else if (c == '"')
        quoted = false;
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      return i;
    }
  }
  return s.size();
}

std::string_view trim_blanks(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

int parse_occurrence(std::string_view text) {
  text = trim_blanks(text);
  int value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size())
    throw CompileError("header occurrence '" + std::string(text) + "' is not an integer");
  return value;
}

std::string_view cut_query(std::string_view path) {
  auto q = path.find('?');
  return q == std::string_view::npos ? path : path.substr(0, q);
}

// The first comma-separated value of the first Host header (empty without one); false when
// there is no request message.
bool first_host(Facts& facts, std::string_view& host) {
  Walk walk = for_each_field(facts, Message::request, [&](const HeaderField& field) {
    if (!header_name_equals(field.name, "host")) return false;
    HeaderValues values(field.value);
    values.next(host);
    return true;
  });
  return walk != Walk::no_message;
}

Value path_value(Facts& facts) {
  Value url = facts.fetch(FetchId::url, {});
  if (url.type != Value::Type::text) return {};
  std::string_view path = path_of_url(url.text);
  if (path.empty()) return {};
  return Value::text_of(cut_query(path));
}

// The header values `spec` designates, counted or picked by occurrence; false when the
// message does not exist.
template <class Visit>
bool visit_header_values(const SampleSpec& spec, Facts& facts, Visit&& visit) {
  Walk walk = for_each_field(facts, spec.message(), [&](const HeaderField& field) {
    if (!spec.header_name().empty() && !header_name_equals(field.name, spec.header_name()))
      return false;
    HeaderValues values(field.value);
    std::string_view v;
    while (values.next(v))
      if (visit(v)) return true;
    return false;
  });
  return walk != Walk::no_message;
}

}  // namespace

const FetchInfo* find_fetch(std::string_view name) {
  auto it = std::lower_bound(fetch_table.begin(), fetch_table.end(), name,
                             [](const FetchInfo& f, std::string_view n) { return f.name < n; });
  return it != fetch_table.end() && it->name == name ? &*it : nullptr;
}

ArgList::ArgList(std::vector<std::string> args) : owned_(std::move(args)) {
  // Views point into the strings themselves; moving the vector keeps its elements in place.
  views_.reserve(owned_.size());
  for (const auto& a : owned_)
    views_.emplace_back(a);
}

// HAProxy's __http_find_header() walk over one field: a value ends at an unquoted comma, both
// ends lose linear whitespace, and empty values ("a,,b", "a,") are values too.
bool HeaderValues::next(std::string_view& value) {
  if (started_) {
    if (pos_ >= field_.size()) return false;
    if (field_[pos_] == ',') ++pos_;
  }
  started_ = true;
  std::size_t begin = pos_;
  while (begin < field_.size() && is_lws(field_[begin]))
    ++begin;
  std::size_t end = value_end(field_, begin);
  std::size_t last = end;
  while (last > begin && is_lws(field_[last - 1]))
    --last;
  value = field_.substr(begin, last - begin);
  pos_ = end;
  return true;
}

std::string_view path_of_url(std::string_view url) {
  std::size_t i = 0;
  if (url.empty() || url[0] == '*') return {};
  auto alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  if (alpha(url[0])) {
    ++i;
    while (i < url.size() &&
           (alpha(url[i]) || digit(url[i]) || url[i] == '+' || url[i] == '-' || url[i] == '.'))
      ++i;
    if (url.substr(i, 3) != "://") return {};
    i += 3;
  }
  while (i < url.size() && url[i] != '/')
    ++i;
  return i < url.size() ? url.substr(i) : std::string_view{};
}

SampleSpec SampleSpec::compile(const config::Sample& sample, Side side, bool acl) {
  const FetchInfo* info = find_fetch(sample.fetch);
  if (info == nullptr) throw CompileError("unknown fetch '" + sample.fetch + "'");
  SampleSpec spec;
  spec.id_ = info->id;
  spec.fetch_type_ = info->type;
  for (const auto& conv : sample.converters) {
    if (conv == "lower")
      spec.fold_ = CaseFold::lower;
    else if (conv == "upper")
      spec.fold_ = CaseFold::upper;
    else
      throw CompileError("unknown converter '" + conv + "'");
  }
  spec.converted_ = !sample.converters.empty();
  spec.type_ = spec.converted_ ? SampleType::text : spec.fetch_type_;

  const bool format_hdr = !acl && info->id == FetchId::hdr;
  const bool wrong_side = !format_hdr && ((info->request_only && side == Side::response) ||
                                          (info->response_only && side == Side::request));
  const auto& args = sample.args;
  switch (info->id) {
    case FetchId::always_true:
    case FetchId::always_false:
      spec.source_ = Source::constant;
      spec.constant_ = Value::boolean_of(info->id == FetchId::always_true);
      break;
    case FetchId::str:
      spec.source_ = Source::constant;
      spec.constant_text_ = args.empty() ? std::string() : args[0];
      break;
    case FetchId::base:
      spec.source_ = Source::base;
      break;
    case FetchId::path:
      spec.source_ = Source::path;
      break;
    case FetchId::query:
      spec.source_ = Source::query;
      break;
    case FetchId::hdr:
    case FetchId::req_hdr:
    case FetchId::res_hdr:
      spec.source_ = Source::headers;
      spec.message_ = info->id == FetchId::res_hdr ||
                              (info->id == FetchId::hdr && !acl && side == Side::response)
                          ? Message::response
                          : Message::request;
      // `hdr` without parentheses has no name argument and never yields a sample; `hdr()`
      // has an empty one and reads every header (what HAProxy 2.6 does).
      if (args.empty()) spec.source_ = Source::unavailable;
      if (!args.empty()) spec.header_name_ = trim_blanks(args[0]);
      if (args.size() > 1) spec.occurrence_ = parse_occurrence(args[1]);
      // Outside ACLs a fetch yields one value: the last one unless told otherwise.
      if (!acl && spec.occurrence_ == 0) spec.occurrence_ = -1;
      break;
    case FetchId::req_hdr_cnt:
    case FetchId::res_hdr_cnt:
      spec.source_ = Source::count;
      spec.message_ = info->id == FetchId::res_hdr_cnt ? Message::response : Message::request;
      if (!args.empty()) spec.header_name_ = trim_blanks(args[0]);
      break;
    default:
      spec.source_ = Source::facts;
      spec.args_ = ArgList(args);
      break;
  }
  if (wrong_side) spec.source_ = Source::unavailable;
  return spec;
}

RawSample fetch_one(const SampleSpec& spec, Facts& facts) {
  switch (spec.source()) {
    case Source::constant:
      if (spec.id() == FetchId::str) return {Value::text_of(spec.constant_text()), {}};
      return {spec.constant(), {}};
    case Source::unavailable:
      return {};
    case Source::facts:
      return {facts.fetch(spec.id(), spec.args()), {}};
    case Source::path:
      return {path_value(facts), {}};
    case Source::query: {
      Value url = facts.fetch(FetchId::url, {});
      if (url.type != Value::Type::text) return {};
      auto q = url.text.find('?');
      if (q == std::string_view::npos) return {};
      return {Value::text_of(url.text.substr(q + 1)), {}};
    }
    case Source::base: {
      std::string_view host;
      if (!first_host(facts, host)) return {};
      if (host.empty()) return {path_value(facts), {}};
      Value url = facts.fetch(FetchId::url, {});
      std::string_view path;
      if (url.type == Value::Type::text) path = cut_query(path_of_url(url.text));
      return {Value::text_of(host), path};
    }
    case Source::count: {
      std::int64_t n = 0;
      if (!visit_header_values(spec, facts, [&](std::string_view) {
            ++n;
            return false;
          }))
        return {};
      return {Value::integer_of(n), {}};
    }
    case Source::headers: {
      const int occ = spec.occurrence();
      Value found;
      if (occ < 0) {
        // One pass, remembering the last -occ values (HAProxy's history of 10).
        if (-occ > max_header_history) return {};
        std::array<std::string_view, max_header_history> last;
        int total = 0;
        if (!visit_header_values(spec, facts, [&](std::string_view v) {
              last[static_cast<std::size_t>(total++ % -occ)] = v;
              return false;
            }))
          return {};
        if (total + occ < 0) return {};
        return {Value::text_of(last[static_cast<std::size_t>((total + occ) % -occ)]), {}};
      }
      int seen = 0;
      visit_header_values(spec, facts, [&](std::string_view v) {
        // occ 0 only reaches here from an ACL asking for one value: the first.
        if (++seen >= occ) {
          found = Value::text_of(v);
          return true;
        }
        return false;
      });
      return {found, {}};
    }
  }
  return {};
}

std::size_t value_text(const Value& value, std::span<char> out) {
  constexpr auto npos = std::string_view::npos;
  switch (value.type) {
    case Value::Type::none:
      return 0;
    case Value::Type::boolean:
    case Value::Type::integer:
    case Value::Type::time: {
      auto [end, ec] = std::to_chars(out.data(), out.data() + out.size(), value.integer);
      return ec == std::errc() ? static_cast<std::size_t>(end - out.data()) : npos;
    }
    case Value::Type::address: {
      if (!value.address.v6) {
        // inet_ntop costs more than the rest of a typical render; dotted quads are simple.
        char buf[16];  // "255.255.255.255" is 15
        std::size_t n = 0;
        for (std::size_t i = 0; i < 4; ++i) {
          if (i) buf[n++] = '.';
          const unsigned b = value.address.bytes[i];
          if (b >= 100) buf[n++] = char('0' + b / 100);
          if (b >= 10) buf[n++] = char('0' + b / 10 % 10);
          buf[n++] = char('0' + b % 10);
        }
        if (n > out.size()) return npos;
        std::memcpy(out.data(), buf, n);
        return n;
      }
      char buf[INET6_ADDRSTRLEN];
      if (!inet_ntop(AF_INET6, value.address.bytes.data(), buf, sizeof buf)) return npos;
      std::size_t n = std::strlen(buf);
      if (n > out.size()) return npos;
      std::memcpy(out.data(), buf, n);
      return n;
    }
    case Value::Type::text:
    case Value::Type::binary: {
      std::string_view t = value.text;
      if (value.type == Value::Type::binary) t = t.substr(0, t.find('\0'));
      if (t.size() > out.size()) return npos;
      if (!t.empty()) std::memcpy(out.data(), t.data(), t.size());
      return t.size();
    }
  }
  return npos;
}

Value materialize(const SampleSpec& spec, const RawSample& raw, std::span<char> scratch) {
  if (!raw.value) return {};
  const bool to_text = spec.converted() && raw.value.type != Value::Type::text;
  if (spec.fold() == CaseFold::none && raw.tail.empty() && !to_text) return raw.value;
  std::size_t n = value_text(raw.value, scratch);
  if (n == std::string_view::npos || raw.tail.size() > scratch.size() - n) return {};
  if (!raw.tail.empty()) std::memcpy(scratch.data() + n, raw.tail.data(), raw.tail.size());
  n += raw.tail.size();
  if (spec.fold() == CaseFold::lower)
    std::transform(scratch.data(), scratch.data() + n, scratch.data(), lower);
  else if (spec.fold() == CaseFold::upper)
    std::transform(scratch.data(), scratch.data() + n, scratch.data(), upper);
  return Value::text_of({scratch.data(), n});
}

}  // namespace sluice::rules
