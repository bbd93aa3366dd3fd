#include "runtime/rules/regex.hpp"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

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

}  // namespace

Regex::Regex(const std::string& pattern, bool ignore_case) : pattern_(pattern) {
  auto code = std::make_shared<Code>();
  int error = 0;
  PCRE2_SIZE offset = 0;
  std::uint32_t options = PCRE2_NO_AUTO_CAPTURE | (ignore_case ? PCRE2_CASELESS : 0);
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
  // An empty view may have no data pointer; PCRE2 10.42 wants one even for length 0.
  auto* s = reinterpret_cast<PCRE2_SPTR>(subject.data() ? subject.data() : "");
  int rc = code_->jit ? pcre2_jit_match(code_->code, s, subject.size(), 0, 0, data, nullptr)
                      : pcre2_match(code_->code, s, subject.size(), 0, 0, data, nullptr);
  return rc >= 0;
}

}  // namespace sluice::rules
