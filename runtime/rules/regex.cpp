#include "runtime/rules/regex.hpp"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>

#include "runtime/rules/fetch.hpp"

namespace sluice::rules {

struct Regex::Code {
  pcre2_code* code = nullptr;
  bool jit = false;
  ~Code() { pcre2_code_free(code); }
};

namespace {

// One match data block per thread, reused by every regex: only the match verdict is read,
// so one ovector pair suffices (PCRE2 then returns 0 for "matched, ovector too small").
struct ThreadMatchData {
  pcre2_match_data* data = pcre2_match_data_create(1, nullptr);
  ~ThreadMatchData() { pcre2_match_data_free(data); }
};

pcre2_match_data* thread_match_data() {
  thread_local ThreadMatchData block;
  return block.data;
}

// search() needs every group up to \9: a second block, so matches() keeps its one pair.
struct ThreadGroupData {
  pcre2_match_data* data = pcre2_match_data_create(Regex::max_groups, nullptr);
  ~ThreadGroupData() { pcre2_match_data_free(data); }
};

pcre2_match_data* thread_group_data() {
  thread_local ThreadGroupData block;
  return block.data;
}

int run(const pcre2_code* code, bool jit, std::string_view subject, pcre2_match_data* data) {
  // An empty view may have no data pointer; PCRE2 10.42 wants one even for length 0.
  auto* s = reinterpret_cast<PCRE2_SPTR>(subject.data() ? subject.data() : "");
  return jit ? pcre2_jit_match(code, s, subject.size(), 0, 0, data, nullptr)
             : pcre2_match(code, s, subject.size(), 0, 0, data, nullptr);
}

}  // namespace

Regex::Regex(const std::string& pattern, bool ignore_case) : Regex(pattern, ignore_case, false) {}

Regex::Regex(const std::string& pattern, bool ignore_case, bool captures) : pattern_(pattern) {
  auto code = std::make_shared<Code>();
  int error = 0;
  PCRE2_SIZE offset = 0;
  std::uint32_t options =
      (captures ? 0 : PCRE2_NO_AUTO_CAPTURE) | (ignore_case ? PCRE2_CASELESS : 0);
  code->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), options,
                             &error, &offset, nullptr);
  if (code->code == nullptr) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(error, message, sizeof message);
    throw CompileError("regex '" + pattern + "': " + reinterpret_cast<const char*>(message) +
                       " at offset " + std::to_string(offset));
  }
  // JIT is an optimisation: without it (unsupported CPU, no executable memory) the
  // interpreter gives the same answers.
  code->jit = pcre2_jit_compile(code->code, PCRE2_JIT_COMPLETE) == 0;
  code_ = std::move(code);
}

bool Regex::matches(std::string_view subject) const {
  auto* data = thread_match_data();
  if (data == nullptr) return false;
  return run(code_->code, code_->jit, subject, data) >= 0;
}

bool Regex::search(std::string_view subject, Groups& groups) const {
  groups.fill(Span{});
  auto* data = thread_group_data();
  if (data == nullptr) return false;
  const int rc = run(code_->code, code_->jit, subject, data);
  if (rc < 0) return false;
  // rc == 0: more groups than the ovector holds; the first max_groups are still set.
  const std::size_t filled = rc == 0 ? max_groups : std::min<std::size_t>(rc, max_groups);
  const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(data);
  for (std::size_t i = 0; i < filled; ++i) {
    if (ovector[2 * i] == PCRE2_UNSET) continue;
    groups[i] = Span{ovector[2 * i], ovector[2 * i + 1]};
  }
  return true;
}

}  // namespace sluice::rules
