#include "runtime/proxy/http_rules.hpp"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <charconv>
#include <cstring>
#include <string>

#include "runtime/proxy/connection_facts.hpp"
#include "runtime/rules/fetch.hpp"
#include "runtime/rules/regex.hpp"

namespace sluice::proxy {

// ---- arena ---------------------------------------------------------------------------------

RewriteArena::RewriteArena(std::size_t capacity)
    : data_(std::make_unique_for_overwrite<char[]>(capacity)), capacity_(capacity) {}

std::string_view RewriteArena::commit(std::size_t n) {
  std::string_view kept(data_.get() + used_, n);
  used_ += n;
  return kept;
}

std::optional<std::string_view> RewriteArena::copy(std::string_view text) {
  if (text.size() > capacity_ - used_) return std::nullopt;
  if (!text.empty()) std::memcpy(data_.get() + used_, text.data(), text.size());
  return commit(text.size());
}

namespace {

using Kind = config::HttpAction::Kind;

// Text assembled piece by piece in the arena's free space, kept only when it all fits.
class ArenaText {
 public:
  explicit ArenaText(RewriteArena& arena) : arena_(arena), space_(arena.space()) {}
  void put(std::string_view s) {
    if (size_ + s.size() > space_.size()) {
      fits_ = false;
      return;
    }
    if (!s.empty()) std::memcpy(space_.data() + size_, s.data(), s.size());
    size_ += s.size();
  }
  void put(char c) { put(std::string_view(&c, 1)); }
  char last() const { return size_ ? space_[size_ - 1] : '\0'; }
  std::optional<std::string_view> commit() {
    if (!fits_) return std::nullopt;
    return arena_.commit(size_);
  }

 private:
  RewriteArena& arena_;
  std::span<char> space_;
  std::size_t size_ = 0;
  bool fits_ = true;
};

// A format's text that must outlive the rule: a literal is the rule set's own string,
// anything else is rendered into the arena. nullopt when it does not fit.
std::optional<std::string_view> render_kept(const rules::CompiledFormat& format,
                                            rules::Facts& facts, RewriteArena& arena) {
  if (format.is_literal()) return format.literal();
  const auto r = format.render(facts, arena.space());
  if (r.truncated) return std::nullopt;
  return arena.commit(r.size);
}

// A format's text needed only while the action runs (it is copied into the arena as part
// of a larger text): rendered into the scratch buffer. Like HAProxy's trash chunk, a text
// longer than tune.bufsize is cut.
std::string_view render_scratch(const rules::CompiledFormat& format, rules::Facts& facts,
                                std::span<char> scratch) {
  if (format.is_literal()) return format.literal();
  const auto r = format.render(facts, scratch);
  return {scratch.data(), r.size};
}

// The parts of a request target the rewriting actions work on.
struct TargetParts {
  std::string_view kept;   // "scheme://authority" of an absolute-form target with a path
  std::string_view path;   // empty for "*", authority-form, or an absolute-form without path
  std::string_view query;  // from the '?' on, or empty
};

TargetParts split_target(std::string_view target) {
  const std::size_t q = target.find('?');
  const std::string_view before = target.substr(0, q);
  const std::string_view query = q == std::string_view::npos ? "" : target.substr(q);
  // HAProxy's set-path replaces the whole target when it has no path ("*", "http://h"),
  // so only an absolute-form target with a path keeps its scheme and authority.
  const std::string_view path = rules::path_of_url(before);
  if (path.empty()) return {"", "", query};
  return {before.substr(0, before.size() - path.size()), path, query};
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// replace-header's replacement, as HAProxy expands it: \0-\9 are the regex's groups (an
// unset one writes nothing), \xHH a byte, a backslash before anything else keeps that
// character alone.
void expand(std::string_view replacement, std::string_view subject,
            const rules::Regex::Groups& groups, ArenaText& out) {
  for (std::size_t i = 0; i < replacement.size(); ++i) {
    const char c = replacement[i];
    if (c != '\\' || i + 1 == replacement.size()) {
      out.put(c);
      continue;
    }
    const char next = replacement[++i];
    if (next >= '0' && next <= '9') {
      const auto& g = groups[static_cast<std::size_t>(next - '0')];
      if (g.begin != rules::Regex::Span::unset) out.put(subject.substr(g.begin, g.end - g.begin));
    } else if (next == 'x' && i + 2 < replacement.size() && hex_digit(replacement[i + 1]) >= 0 &&
               hex_digit(replacement[i + 2]) >= 0) {
      out.put(
          static_cast<char>(hex_digit(replacement[i + 1]) * 16 + hex_digit(replacement[i + 2])));
      i += 2;
    } else {
      out.put(next);
    }
  }
}

// The Host field as the rules left it (a set-header Host before the redirect counts).
std::string_view host_of(const http::Message& message) {
  const std::size_t i = message.headers.find("host");
  return i < message.headers.size() ? message.headers[i].value : std::string_view();
}

}  // namespace

// ---- rules ---------------------------------------------------------------------------------

struct HttpRuleSet::Rule {
  // A copy: RuleOutcome::action, header names and literal texts point into it, and the
  // rule set may outlive the vector it was compiled from.
  config::HttpAction action;
  std::optional<rules::CompiledCondition> condition;
  rules::CompiledFormat value;  // header value, replacement, redirect target, path
  std::optional<rules::Regex> regex;
  std::optional<rules::CompiledFormat> body_format;
  std::vector<rules::CompiledFormat> headers;  // return: one per action.headers entry
};

HttpRuleSet HttpRuleSet::compile(const std::vector<config::HttpRule>& rules, rules::Side side,
                                 rules::Compiler& conditions) {
  HttpRuleSet set;
  set.rules_.reserve(rules.size());
  for (const auto& rule : rules) {
    auto compiled = std::make_shared<Rule>();
    compiled->action = rule.action;
    const config::HttpAction& a = compiled->action;
    if (rule.condition) compiled->condition = conditions.condition(*rule.condition, side);
    switch (a.kind) {
      case Kind::replace_header:
        // HAProxy matches replace-header case-sensitively, with numbered groups.
        compiled->regex.emplace(a.regex, false, true);
        [[fallthrough]];
      case Kind::set_header:
      case Kind::add_header:
      case Kind::redirect_location:
      case Kind::redirect_prefix:
      case Kind::redirect_scheme:
      case Kind::set_path:
        compiled->value = rules::CompiledFormat::compile(a.value, side);
        break;
      case Kind::return_:
        if (a.body_format)
          compiled->body_format = rules::CompiledFormat::compile(*a.body_format, side);
        for (const auto& [name, format] : a.headers)
          compiled->headers.push_back(rules::CompiledFormat::compile(format, side));
        break;
      case Kind::del_header:
      case Kind::deny:
        break;
    }
    set.rules_.push_back(std::move(compiled));
  }
  return set;
}

RuleOutcome HttpRuleSet::run(http::Message& message, RuleContext& ctx) const {
  for (const auto& rule_ptr : rules_) {
    const Rule& rule = *rule_ptr;
    const config::HttpAction& a = rule.action;
    if (rule.condition && !rule.condition->matches(ctx.facts, ctx.scratch)) continue;

    RuleOutcome failed{RuleOutcome::Kind::failed, &a, 500, {}, {}};
    http::HeaderList& headers = message.headers;
    switch (a.kind) {
      case Kind::set_header:
      case Kind::add_header: {
        // Rendered before the edit: the value may read the field it replaces.
        const auto value = render_kept(rule.value, ctx.facts, ctx.arena);
        if (!value) return failed;
        if (a.kind == Kind::set_header) headers.erase_all(a.name);
        if (!headers.push_back(a.name, *value)) return failed;
        break;
      }
      case Kind::del_header:
        headers.erase_all(a.name);
        break;
      case Kind::replace_header: {
        // One rendering for every occurrence, as HAProxy: back-references are expanded
        // per field from the rendered text.
        const std::string_view replacement = render_scratch(rule.value, ctx.facts, ctx.scratch);
        for (std::size_t i = headers.find(a.name); i < headers.size();
             i = headers.find(a.name, i + 1)) {
          rules::Regex::Groups groups;
          const std::string_view value = headers[i].value;
          if (!rule.regex->search(value, groups)) continue;
          ArenaText out(ctx.arena);
          expand(replacement, value, groups, out);
          const auto replaced = out.commit();
          if (!replaced) return failed;
          headers[i].value = *replaced;
        }
        break;
      }
      case Kind::set_path: {
        const std::string_view path = render_scratch(rule.value, ctx.facts, ctx.scratch);
        const TargetParts parts = split_target(message.target);
        ArenaText out(ctx.arena);
        out.put(parts.kept);
        out.put(path);
        out.put(parts.query);
        const auto target = out.commit();
        if (!target) return failed;
        message.target = *target;
        break;
      }
      case Kind::redirect_location:
      case Kind::redirect_prefix:
      case Kind::redirect_scheme: {
        std::optional<std::string_view> location;
        if (a.kind == Kind::redirect_location) {
          // drop-query and append-slash do not apply to a location (HAProxy ignores them).
          location = render_kept(rule.value, ctx.facts, ctx.arena);
        } else {
          const std::string_view text = render_scratch(rule.value, ctx.facts, ctx.scratch);
          const TargetParts parts = split_target(message.target);
          ArenaText out(ctx.arena);
          if (a.kind == Kind::redirect_scheme) {
            out.put(text);
            out.put("://");
            out.put(host_of(message));  // none: "https:///path", as HAProxy writes it
          } else if (text != "/") {
            out.put(text);  // a prefix of "/" stands for "no prefix"
          }
          out.put(parts.path.empty() ? std::string_view("/") : parts.path);
          if (!a.drop_query) out.put(parts.query);
          // Checked on the last character written: without drop-query the slash lands
          // after the query, as HAProxy does.
          if (a.append_slash && out.last() != '/') out.put('/');
          location = out.commit();
        }
        if (!location) return failed;
        return {RuleOutcome::Kind::reply, &a, a.status ? a.status : 302, *location, {}};
      }
      case Kind::deny:
        return {RuleOutcome::Kind::reply, &a, a.status ? a.status : 403, {}, {}};
      case Kind::return_: {
        std::string_view body = a.body;
        if (rule.body_format) {
          const auto rendered = render_kept(*rule.body_format, ctx.facts, ctx.arena);
          if (!rendered) return failed;
          body = *rendered;
        }
        for (std::size_t i = 0; i < rule.headers.size(); ++i) {
          const auto value = render_kept(rule.headers[i], ctx.facts, ctx.arena);
          if (!value) return failed;
          // HAProxy leaves out a `hdr` whose value renders empty.
          if (value->empty()) continue;
          if (!ctx.reply_headers.push_back(a.headers[i].first, *value)) return failed;
        }
        return {RuleOutcome::Kind::reply, &a, a.status ? a.status : 200, {}, body};
      }
    }
  }
  return {};
}

// ---- option forwardfor ---------------------------------------------------------------------

namespace {

// "a.b.c.d", "a.b.c.d/len", "a.b.c.d/m.m.m.m", "x::y", "x::y/len" (a bare address is a host).
std::optional<std::pair<rules::IpAddress, int>> parse_network(const std::string& text) {
  const std::size_t slash = text.find('/');
  const std::string address = text.substr(0, slash);
  const std::string mask = slash == std::string::npos ? "" : text.substr(slash + 1);
  std::array<std::uint8_t, 16> bytes{};
  rules::IpAddress ip;
  int max_prefix = 32;
  if (inet_pton(AF_INET, address.c_str(), bytes.data()) == 1) {
    std::copy_n(bytes.begin(), 4, ip.bytes.begin());
  } else if (inet_pton(AF_INET6, address.c_str(), bytes.data()) == 1) {
    ip = rules::IpAddress::v6_bytes(bytes);
    max_prefix = 128;
  } else {
    return std::nullopt;
  }
  if (slash == std::string::npos) return std::pair{ip, max_prefix};
  if (!ip.v6 && mask.find('.') != std::string::npos) {
    std::array<std::uint8_t, 4> m{};
    if (inet_pton(AF_INET, mask.c_str(), m.data()) != 1) return std::nullopt;
    int prefix = 0;
    for (std::uint8_t byte : m)
      for (int bit = 7; bit >= 0 && (byte >> bit & 1); --bit)
        ++prefix;
    return std::pair{ip, prefix};
  }
  int prefix = -1;
  const auto [end, ec] = std::from_chars(mask.data(), mask.data() + mask.size(), prefix);
  if (ec != std::errc() || end != mask.data() + mask.size() || prefix < 0 || prefix > max_prefix)
    return std::nullopt;
  return std::pair{ip, prefix};
}

bool in_network(const rules::IpAddress& ip, const rules::IpAddress& network, int prefix) {
  if (ip.v6 != network.v6) return false;
  const int whole = prefix / 8;
  for (int i = 0; i < whole; ++i)
    if (ip.bytes[i] != network.bytes[i]) return false;
  const int bits = prefix % 8;
  if (bits == 0) return true;
  const std::uint8_t mask = static_cast<std::uint8_t>(0xff << (8 - bits));
  return (ip.bytes[whole] & mask) == (network.bytes[whole] & mask);
}

}  // namespace

std::optional<ForwardFor> ForwardFor::merge(const std::optional<config::ForwardFor>& frontend,
                                            const std::optional<config::ForwardFor>& backend) {
  if (!frontend && !backend) return std::nullopt;
  ForwardFor out;
  out.header = backend ? backend->header : frontend->header;
  for (const auto* side : {&frontend, &backend}) {
    if (!*side || (*side)->except.empty()) continue;
    if (auto network = parse_network((*side)->except)) out.except.push_back(*network);
  }
  // HAProxy 2.6 adds the header whenever one of the proxies having the option lacks
  // if-none: only when all of them say if-none does an existing header stop it.
  out.if_none = (!frontend || frontend->if_none) && (!backend || backend->if_none);
  return out;
}

bool ForwardFor::apply(http::Message& request, const io::SocketAddress& client,
                       RewriteArena& arena) const {
  const auto bytes = client.ip_bytes();
  if (bytes.empty()) return true;  // not an IP client (unix socket): HAProxy adds nothing
  const rules::IpAddress ip = ip_of(client);
  for (const auto& [network, prefix] : except)
    if (in_network(ip, network, prefix)) return true;
  if (if_none && request.headers.find(header) < request.headers.size()) return true;
  char text[INET6_ADDRSTRLEN] = {};
  if (inet_ntop(ip.v6 ? AF_INET6 : AF_INET, bytes.data(), text, sizeof text) == nullptr)
    return true;
  const auto value = arena.copy(text);
  if (!value) return false;
  return request.headers.push_back(header, *value);
}

}  // namespace sluice::proxy
