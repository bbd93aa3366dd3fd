// Log-format strings compiled once and rendered per request into a caller's buffer: literal
// text, %[sample,converters] and %XX aliases, with HAProxy's output rules for header values
// (a missing sample writes nothing; control characters become %XX) and for logs (a missing
// or empty sample writes "-"). Reads only through Facts; knows nothing of actions or sinks.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/config/config.hpp"
#include "runtime/rules/facts.hpp"
#include "runtime/rules/fetch.hpp"

namespace sluice::rules {

enum class RenderMode : std::uint8_t {
  header,  // http-request/response set-header, add-header, redirect, set-path, return
  log,     // log-format lines
};

struct RenderResult {
  std::size_t size = 0;    // bytes written to `out`
  bool truncated = false;  // `out` was too small: what fits was written, as HAProxy does
};

// The alias a `%XX` name stands for, or std::nullopt.
std::optional<LogVar> find_log_var(std::string_view alias);

class CompiledFormat {
 public:
  // `side`: the rule's side (a bare `hdr` reads that message). Throws CompileError.
  static CompiledFormat compile(const config::Format& format, Side side);

  RenderResult render(Facts& facts, std::span<char> out,
                      RenderMode mode = RenderMode::header) const;

  // True when the string has no sample and no alias: the caller can use literal() as is.
  bool is_literal() const { return literal_only_; }
  std::string_view literal() const { return literal_; }

 private:
  struct Part {
    enum class Kind : std::uint8_t { literal, sample, alias } kind = Kind::literal;
    std::string text;
    SampleSpec sample;
    LogVar var = LogVar::flags_only;
  };
  std::vector<Part> parts_;
  bool literal_only_ = true;
  std::string literal_;
};

inline RenderResult render(const CompiledFormat& format, Facts& facts, std::span<char> out,
                           RenderMode mode = RenderMode::header) {
  return format.render(facts, out, mode);
}

}  // namespace sluice::rules
