// `http-request` / `http-response` / `redirect` rules compiled once per proxy and run on a
// message: header edits, set-path, and the actions that answer instead of forwarding
// (deny, return, redirect); plus `option forwardfor`. Rewritten text goes to a per-message
// arena, so running rules never allocates. Knows no sockets.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "runtime/config/config.hpp"
#include "runtime/http/message.hpp"
#include "runtime/io/socket.hpp"
#include "runtime/rules/condition.hpp"
#include "runtime/rules/format.hpp"

namespace sluice::proxy {

// Bytes that outlive one rule while the message is being edited: rendered header values,
// a rewritten path. Fixed capacity (HAProxy's tune.maxrewrite plays this role); reset when
// the next message starts.
class RewriteArena {
 public:
  explicit RewriteArena(std::size_t capacity);
  std::span<char> space() { return {data_.get() + used_, capacity_ - used_}; }
  // Keeps the first `n` bytes of space() and returns them.
  std::string_view commit(std::size_t n);
  // A copy of `text`, or nullopt when it does not fit.
  std::optional<std::string_view> copy(std::string_view text);
  void reset() { used_ = 0; }
  std::size_t used() const { return used_; }

 private:
  std::unique_ptr<char[]> data_;
  std::size_t capacity_;
  std::size_t used_ = 0;
};

struct RuleContext {
  rules::Facts& facts;
  RewriteArena& arena;
  std::span<char> scratch;  // tune.bufsize bytes: conditions' converted samples, rendering
  // `return` rules' rendered `hdr` fields land here (views into the arena).
  http::HeaderList& reply_headers;
};

// What a rule list decided for the message.
struct RuleOutcome {
  enum class Kind : std::uint8_t {
    proceed,  // forward the (edited) message
    reply,    // answer with the action below instead of forwarding
    failed,   // a rewrite did not fit: HAProxy answers 500 (strict rewriting)
  } kind = Kind::proceed;
  const config::HttpAction* action = nullptr;  // reply: deny, return or a redirect
  int status = 0;                              // reply: the status to answer
  std::string_view location;                   // redirect: the rendered Location
  // return: the body to send: the literal `string`/`file` text (owned by the rule set), or
  // an `lf-string`/`lf-file` rendered for this message into ctx.arena.
  std::string_view body;
};

class HttpRuleSet {
 public:
  HttpRuleSet() = default;
  // Throws rules::CompileError (a regex PCRE2 refuses, a format rules cannot compile).
  static HttpRuleSet compile(const std::vector<config::HttpRule>& rules, rules::Side side,
                             rules::Compiler& conditions);

  // Runs the rules in order on `message` until one answers; edits apply to `message`
  // (header views may point into ctx.arena afterwards).
  RuleOutcome run(http::Message& message, RuleContext& ctx) const;
  bool empty() const { return rules_.empty(); }

 private:
  struct Rule;
  std::vector<std::shared_ptr<const Rule>> rules_;
};

// `option forwardfor` of the frontend and/or the backend, merged as HAProxy 2.6 does (the
// header is added when either has it; the backend's header name wins; `except` of either
// skips; an existing header stops it only when every proxy having the option says if-none).
struct ForwardFor {
  std::string header = "X-Forwarded-For";
  std::vector<std::pair<rules::IpAddress, int>> except;  // network, prefix length
  bool if_none = false;
  static std::optional<ForwardFor> merge(const std::optional<config::ForwardFor>& frontend,
                                         const std::optional<config::ForwardFor>& backend);
  // Adds the client's address; false when the arena is full.
  bool apply(http::Message& request, const io::SocketAddress& client, RewriteArena& arena) const;
};

}  // namespace sluice::proxy
