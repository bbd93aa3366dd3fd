// Who this binary says it is: sluice's own version and the HAProxy release whose behaviour
// it implements (the one its differential tests run against).
#pragma once

#include <string_view>

namespace sluice::config {

inline constexpr std::string_view kSluiceVersion = "0.1.0";
inline constexpr std::string_view kHaproxyVersion = "2.6.12";
// What `-v`, the CLI's `show version` and $HAPROXY_STARTUP_VERSION say: HAProxy's form, so
// that tools parsing `haproxy -v` read the implemented release, then sluice's own.
inline constexpr std::string_view kVersionString = "2.6.12-sluice-0.1.0";
inline constexpr std::string_view kReleaseDate = "2026/12/05";

static_assert(kVersionString.starts_with(kHaproxyVersion) &&
              kVersionString.ends_with(kSluiceVersion));

}  // namespace sluice::config
