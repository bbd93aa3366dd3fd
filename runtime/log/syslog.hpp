// Syslog framing as HAProxy 2.6 sends it: severities, facilities, the header of each `log`
// target `format` (rfc3164, rfc5424, local, short, priority, iso, timed, raw) and `len`
// truncation. Pure functions over caller buffers; knows nothing of sockets, sessions or config.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace sluice::log {

// Syslog severities, most severe first (their numeric value is the syslog code).
enum class Severity : std::uint8_t { emerg, alert, crit, err, warning, notice, info, debug };

// HAProxy logs traffic (httplog, tcplog and the default connect line) at this level.
inline constexpr Severity traffic_severity = Severity::info;

// "emerg" … "debug"; nullopt for any other word.
std::optional<Severity> severity_named(std::string_view name);
// The syslog facility code of "kern" … "local7" (HAProxy's 24 names); nullopt otherwise.
std::optional<int> facility_named(std::string_view name);
// The <PRI> value of a syslog header.
constexpr int priority_of(int facility, Severity severity) {
  return facility * 8 + static_cast<int>(severity);
}

// The `format` word of a `log` line. `unset` is what HAProxy does without one: `local`
// unless a hostname is configured (`log-send-hostname`), then `rfc3164`.
enum class SyslogFormat : std::uint8_t {
  unset,
  local,
  rfc3164,
  rfc5424,
  short_,
  priority,
  iso,
  timed,
  raw
};
// "" → unset, "rfc3164" … "raw"; nullopt for any other word.
std::optional<SyslogFormat> syslog_format_named(std::string_view name);

// What a syslog header says about the sender.
struct SyslogIdentity {
  std::string tag = "haproxy";  // `log-tag`
  int pid = 0;                  // 0: the calling process's pid, taken when a Logger is built
  std::string hostname;         // HAProxy's `log-send-hostname`; empty when not configured
};

// A wall-clock instant broken down in the local time zone, as logs print it.
struct LocalTime {
  int year = 1970;
  int month = 1;  // 1-12
  int day = 1;
  int hour = 0;
  int minute = 0;
  int second = 0;
  int microsecond = 0;
  int utc_offset_seconds = 0;  // east of UTC is positive
};

// localtime_r takes a process-wide lock and reads the zone rules; one conversion per second
// per thread is enough, the rest comes from a thread-local cache (no lock, no allocation).
LocalTime local_time_of(std::chrono::system_clock::time_point instant);

// One target's framing: what goes before the message and how long a frame may be.
struct Framing {
  SyslogFormat format = SyslogFormat::unset;
  int facility = 16;  // local0
  // The whole frame's bytes, newline included. From `len`, haproxy 2.6.12 makes it `len` on a
  // descriptor (stdout, stderr, fd@) but `len` + 1 on a socket (UDP, UNIX): frame_length_of().
  std::size_t max_length = 1024;
};

enum class Transport : std::uint8_t { descriptor, socket };
constexpr std::size_t frame_length_of(int len, Transport transport,
                                      SyslogFormat format = SyslogFormat::unset) {
  const std::size_t bytes = len > 0 ? static_cast<std::size_t>(len) : 1;
  // `raw` (no header) keeps `len` on a socket too (observed on 2.6.12).
  return transport == Transport::socket && format != SyslogFormat::raw ? bytes + 1 : bytes;
}

// Writes the header `framing` puts before a message logged at `severity` at instant `now`.
// Returns its length, or 0 when `out` is too small (128 bytes plus tag and hostname suffice).
std::size_t write_syslog_header(std::span<char> out, const Framing& framing, Severity severity,
                                const SyslogIdentity& identity, const LocalTime& now);

// Header + message + '\n' into `out`, cut as HAProxy cuts a line longer than `len`: the whole
// frame is at most framing.max_length bytes and always ends with '\n'.
// Returns the frame's length (0 if `out` cannot hold even the newline).
std::size_t write_syslog_frame(std::span<char> out, const Framing& framing, Severity severity,
                               const SyslogIdentity& identity, const LocalTime& now,
                               std::string_view message);

}  // namespace sluice::log
