// A check's outcome in HAProxy's words: the status ("Layer7 wrong status"), the HTTP code
// and the info the log lines carry.
#pragma once

#include <string>
#include <string_view>

#include "runtime/config/config.hpp"

namespace sluice::health {

using Status = config::CheckStatus;

// "Layer4 check passed", "Layer7 timeout", "Socket error", …
std::string_view describe(Status status);
// Whether HAProxy's lines give ", code: N" for this status (even N = 0): the layer 7
// statuses that read a reply.
bool shows_code(Status status);

struct Verdict {
  bool passed = false;
  Status status = Status::l4_ok;
  int code = 0;      // the HTTP status, 0 when none was read
  std::string info;  // the reason phrase, or why the content did not match
};

}  // namespace sluice::health
