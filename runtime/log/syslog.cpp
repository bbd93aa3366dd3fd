#include "runtime/log/syslog.hpp"

#include <ctime>

#include "runtime/log/line_writer.hpp"

namespace sluice::log {

namespace {

constexpr std::string_view severity_names[] = {"emerg",   "alert",  "crit", "err",
                                               "warning", "notice", "info", "debug"};

// Syslog facility codes, in code order (HAProxy's names: auth2, audit, alert, cron2 included).
constexpr std::string_view facility_names[] = {
    "kern",   "user",   "mail",   "daemon", "auth",   "syslog", "lpr",    "news",
    "uucp",   "cron",   "auth2",  "ftp",    "ntp",    "audit",  "alert",  "cron2",
    "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7"};

constexpr std::string_view month_names[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

struct SecondCache {
  std::time_t second = 0;
  bool valid = false;
  LocalTime time;
};
thread_local SecondCache second_cache;

void priority(LineWriter& w, int value) {
  w.character('<');
  w.number(value);
  w.character('>');
}

// "Dec  4 19:04:27": RFC 3164's timestamp, the day padded with a space.
void bsd_timestamp(LineWriter& w, const LocalTime& t) {
  w.text(month_names[(t.month - 1) % 12]);
  w.character(' ');
  w.padded(t.day, 2, ' ');
  w.character(' ');
  w.clock(t.hour, t.minute, t.second);
}

// "2026-12-04T19:04:27.296371+00:00": microseconds and the zone's offset, as HAProxy prints.
void iso_timestamp(LineWriter& w, const LocalTime& t) {
  w.padded(t.year, 4);
  w.character('-');
  w.padded(t.month, 2);
  w.character('-');
  w.padded(t.day, 2);
  w.character('T');
  w.clock(t.hour, t.minute, t.second);
  w.character('.');
  w.padded(t.microsecond, 6);
  int offset = t.utc_offset_seconds;
  w.character(offset < 0 ? '-' : '+');
  if (offset < 0) offset = -offset;
  w.padded(offset / 3600, 2);
  w.character(':');
  w.padded(offset / 60 % 60, 2);
}

void header(LineWriter& w, const Framing& framing, Severity severity,
            const SyslogIdentity& identity, const LocalTime& now) {
  SyslogFormat format = framing.format;
  if (format == SyslogFormat::unset)
    format = identity.hostname.empty() ? SyslogFormat::local : SyslogFormat::rfc3164;
  const int level = static_cast<int>(severity);
  switch (format) {
    case SyslogFormat::unset:
    case SyslogFormat::local:
    case SyslogFormat::rfc3164:
      priority(w, priority_of(framing.facility, severity));
      bsd_timestamp(w, now);
      w.character(' ');
      if (format == SyslogFormat::rfc3164) {
        // An explicit rfc3164 always has a HOSTNAME field; HAProxy fills it with
        // "localhost" when log-send-hostname is not set (observed on 2.6.12).
        w.text(identity.hostname.empty() ? std::string_view("localhost") : identity.hostname);
        w.character(' ');
      }
      w.text(identity.tag);
      w.character('[');
      w.number(identity.pid);
      w.text("]: ");
      break;
    case SyslogFormat::rfc5424:
      priority(w, priority_of(framing.facility, severity));
      w.text("1 ");
      iso_timestamp(w, now);
      w.character(' ');
      w.text(identity.hostname.empty() ? std::string_view("-") : identity.hostname);
      w.character(' ');
      w.text(identity.tag);
      w.character(' ');
      w.number(identity.pid);
      w.text(" - - ");  // no MSGID, no STRUCTURED-DATA
      break;
    case SyslogFormat::short_:
      priority(w, level);
      break;
    case SyslogFormat::priority:
      priority(w, priority_of(framing.facility, severity));
      break;
    case SyslogFormat::iso:
      iso_timestamp(w, now);
      w.character(' ');
      break;
    case SyslogFormat::timed:
      priority(w, level);
      iso_timestamp(w, now);
      w.character(' ');
      break;
    case SyslogFormat::raw:
      break;
  }
}

}  // namespace

std::optional<Severity> severity_named(std::string_view name) {
  for (std::size_t i = 0; i < std::size(severity_names); ++i)
    if (severity_names[i] == name) return static_cast<Severity>(i);
  return std::nullopt;
}

std::optional<int> facility_named(std::string_view name) {
  for (std::size_t i = 0; i < std::size(facility_names); ++i)
    if (facility_names[i] == name) return static_cast<int>(i);
  return std::nullopt;
}

std::optional<SyslogFormat> syslog_format_named(std::string_view name) {
  if (name.empty()) return SyslogFormat::unset;
  if (name == "local") return SyslogFormat::local;
  if (name == "rfc3164") return SyslogFormat::rfc3164;
  if (name == "rfc5424") return SyslogFormat::rfc5424;
  if (name == "short") return SyslogFormat::short_;
  if (name == "priority") return SyslogFormat::priority;
  if (name == "iso") return SyslogFormat::iso;
  if (name == "timed") return SyslogFormat::timed;
  if (name == "raw") return SyslogFormat::raw;
  return std::nullopt;
}

LocalTime local_time_of(std::chrono::system_clock::time_point instant) {
  using namespace std::chrono;
  const auto since_epoch = duration_cast<microseconds>(instant.time_since_epoch());
  auto seconds = floor<std::chrono::seconds>(since_epoch);
  const auto second = static_cast<std::time_t>(seconds.count());
  SecondCache& cache = second_cache;
  if (!cache.valid || cache.second != second) {
    std::tm tm{};
    localtime_r(&second, &tm);
    cache.time.year = tm.tm_year + 1900;
    cache.time.month = tm.tm_mon + 1;
    cache.time.day = tm.tm_mday;
    cache.time.hour = tm.tm_hour;
    cache.time.minute = tm.tm_min;
    cache.time.second = tm.tm_sec;
    cache.time.utc_offset_seconds = static_cast<int>(tm.tm_gmtoff);
    cache.second = second;
    cache.valid = true;
  }
  LocalTime t = cache.time;
  t.microsecond = static_cast<int>((since_epoch - seconds).count());
  return t;
}

std::size_t write_syslog_header(std::span<char> out, const Framing& framing, Severity severity,
                                const SyslogIdentity& identity, const LocalTime& now) {
  LineWriter w(out);
  header(w, framing, severity, identity, now);
  return w.overflowed() ? 0 : w.size();
}

std::size_t write_syslog_frame(std::span<char> out, const Framing& framing, Severity severity,
                               const SyslogIdentity& identity, const LocalTime& now,
                               std::string_view message) {
  std::size_t limit = out.size() < framing.max_length ? out.size() : framing.max_length;
  if (limit == 0) return 0;
  // Everything but the last byte is header then message, cut where it reaches the limit;
  // the last byte is always the newline HAProxy ends every line with.
  LineWriter w(out.first(limit - 1));
  header(w, framing, severity, identity, now);
  w.text(message);
  out[w.size()] = '\n';
  return w.size() + 1;
}

}  // namespace sluice::log
