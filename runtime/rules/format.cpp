#include "runtime/rules/format.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <ctime>

namespace sluice::rules {

namespace {

struct AliasName {
  std::string_view name;
  LogVar var;
};

// Sorted by name (byte order: upper case first) for binary search.
constexpr auto alias_table = std::to_array<AliasName>({
    {"B", LogVar::bytes_read},
    {"CC", LogVar::captured_req_cookie},
    {"CS", LogVar::captured_res_cookie},
    {"H", LogVar::hostname},
    {"HM", LogVar::http_method},
    {"HP", LogVar::http_path_query},
    {"HPO", LogVar::http_path_only},
    {"HQ", LogVar::http_query},
    {"HU", LogVar::http_uri},
    {"HV", LogVar::http_version},
    {"ID", LogVar::unique_id},
    {"ST", LogVar::status_code},
    {"T", LogVar::gmt_date},
    {"TR", LogVar::request_time},
    {"Ta", LogVar::active_time},
    {"Tc", LogVar::connect_time},
    {"Td", LogVar::data_time},
    {"Th", LogVar::handshake_time},
    {"Ti", LogVar::idle_time},
    {"Tl", LogVar::local_date},
    {"Tq", LogVar::request_total_time},
    {"Tr", LogVar::response_time},
    {"Ts", LogVar::timestamp},
    {"Tt", LogVar::total_time},
    {"Tu", LogVar::user_time},
    {"Tw", LogVar::queue_time},
    {"U", LogVar::bytes_uploaded},
    {"ac", LogVar::active_connections},
    {"b", LogVar::backend_name},
    {"bc", LogVar::backend_connections},
    {"bi", LogVar::backend_source_ip},
    {"bp", LogVar::backend_source_port},
    {"bq", LogVar::backend_queue},
    {"ci", LogVar::client_ip},
    {"cp", LogVar::client_port},
    {"f", LogVar::frontend_name},
    {"fc", LogVar::frontend_connections},
    {"fi", LogVar::frontend_ip},
    {"fp", LogVar::frontend_port},
    {"ft", LogVar::frontend_transport},
    {"hr", LogVar::captured_req_headers},
    {"hrl", LogVar::captured_req_headers_clf},
    {"hs", LogVar::captured_res_headers},
    {"hsl", LogVar::captured_res_headers_clf},
    {"lc", LogVar::log_counter},
    {"ms", LogVar::accept_millis},
    {"o", LogVar::flags_only},
    {"pid", LogVar::pid},
    {"r", LogVar::http_request_line},
    {"rc", LogVar::retries},
    {"rt", LogVar::request_counter},
    {"s", LogVar::server_name},
    {"sc", LogVar::server_connections},
    {"si", LogVar::server_ip},
    {"sp", LogVar::server_port},
    {"sq", LogVar::server_queue},
    {"sslc", LogVar::ssl_cipher},
    {"sslv", LogVar::ssl_version},
    {"t", LogVar::local_date_ms},
    {"tr", LogVar::request_date_ms},
    {"trg", LogVar::request_gmt_date},
    {"trl", LogVar::request_local_date},
    {"ts", LogVar::termination_state},
    {"tsc", LogVar::termination_state_cookie},
});

constexpr char lower(char c) {
  return c >= 'A' && c <= 'Z' ? char(c + 32) : c;
}
constexpr char upper(char c) {
  return c >= 'a' && c <= 'z' ? char(c - 32) : c;
}

// HAProxy's http_encode_map: header values carry VCHAR, obs-text, SP and HTAB; every other
// byte of a sample is written as %XX.
constexpr bool needs_encoding(unsigned char c) {
  return (c <= 0x08) || (c >= 0x0a && c <= 0x1f) || c == 0x7f;
}

class Writer {
 public:
  explicit Writer(std::span<char> out) : out_(out) {}

  void put(std::string_view s, CaseFold fold = CaseFold::none, bool encode = false) {
    for (char c : s) {
      if (truncated_) return;
      if (fold == CaseFold::lower) c = lower(c);
      if (fold == CaseFold::upper) c = upper(c);
      if (encode && needs_encoding(static_cast<unsigned char>(c))) {
        static constexpr char hex[] = "0123456789ABCDEF";
        const char escaped[3] = {'%', hex[static_cast<unsigned char>(c) >> 4],
                                 hex[static_cast<unsigned char>(c) & 0xf]};
        // An escape is never cut in half: it goes whole or not at all.
        if (out_.size() - pos_ < 3) {
          truncated_ = true;
          return;
        }
        std::copy(escaped, escaped + 3, out_.data() + pos_);
        pos_ += 3;
        continue;
      }
      if (pos_ == out_.size()) {
        truncated_ = true;
        return;
      }
      out_[pos_++] = c;
    }
  }

  RenderResult result() const { return {pos_, truncated_}; }

 private:
  std::span<char> out_;
  std::size_t pos_ = 0;
  bool truncated_ = false;
};

void put_date(Writer& w, std::int64_t micros, LogVar var) {
  static constexpr const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::int64_t secs = micros / 1000000;
  std::int64_t rest = micros % 1000000;
  if (rest < 0) --secs, rest += 1000000;
  const auto t = static_cast<std::time_t>(secs);
  std::tm tm{};
  const bool gmt = var == LogVar::gmt_date || var == LogVar::request_gmt_date;
  if (gmt ? gmtime_r(&t, &tm) == nullptr : localtime_r(&t, &tm) == nullptr) return;
  char buf[64];
  int n = std::snprintf(buf, sizeof buf, "%02d/%s/%04d:%02d:%02d:%02d", tm.tm_mday,
                        months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
  if (var == LogVar::local_date_ms || var == LogVar::request_date_ms) {
    n += std::snprintf(buf + n, sizeof buf - n, ".%03d", static_cast<int>(rest / 1000));
  } else if (gmt) {
    n += std::snprintf(buf + n, sizeof buf - n, " +0000");
  } else {
    long off = tm.tm_gmtoff / 60;
    char sign = off < 0 ? '-' : '+';
    off = off < 0 ? -off : off;
    n += std::snprintf(buf + n, sizeof buf - n, " %c%02ld%02ld", sign, off / 60, off % 60);
  }
  w.put({buf, static_cast<std::size_t>(std::max(n, 0))});
}

// The aliases rules derives from the URL and method rather than asking Facts for them.
Value derived_alias(LogVar var, Facts& facts) {
  if (var == LogVar::http_method) return facts.fetch(FetchId::method, {});
  Value url = facts.fetch(FetchId::url, {});
  if (url.type != Value::Type::text) return {};
  const auto q = url.text.find('?');
  switch (var) {
    case LogVar::http_uri:
      return url;
    case LogVar::http_path_query:
      return Value::text_of(url.text.substr(0, q));
    case LogVar::http_path_only: {
      std::string_view path = path_of_url(url.text);
      return Value::text_of(path.substr(0, path.find('?')));
    }
    default:  // http_query: "?x=1" or nothing
      return Value::text_of(q == std::string_view::npos ? std::string_view{} : url.text.substr(q));
  }
}

bool is_derived(LogVar var) {
  return var == LogVar::http_method || var == LogVar::http_uri || var == LogVar::http_path_query ||
         var == LogVar::http_path_only || var == LogVar::http_query;
}

bool is_date(LogVar var) {
  return var == LogVar::gmt_date || var == LogVar::local_date_ms ||
         var == LogVar::request_date_ms || var == LogVar::request_gmt_date ||
         var == LogVar::request_local_date || var == LogVar::local_date;
}

}  // namespace

std::optional<LogVar> find_log_var(std::string_view alias) {
  auto it = std::lower_bound(alias_table.begin(), alias_table.end(), alias,
                             [](const AliasName& a, std::string_view n) { return a.name < n; });
  if (it == alias_table.end() || it->name != alias) return std::nullopt;
  return it->var;
}

CompiledFormat CompiledFormat::compile(const config::Format& format, Side side) {
  CompiledFormat out;
  for (const auto& part : format) {
    Part p;
    switch (part.kind) {
      case config::FormatPart::Kind::literal:
        p.kind = Part::Kind::literal;
        p.text = part.text;
        out.literal_ += part.text;
        break;
      case config::FormatPart::Kind::sample:
        p.kind = Part::Kind::sample;
        p.sample = SampleSpec::compile(part.sample, side, false);
        out.literal_only_ = false;
        break;
      case config::FormatPart::Kind::alias: {
        auto var = find_log_var(part.text);
        if (!var) throw CompileError("unknown log-format alias '%" + part.text + "'");
        p.kind = Part::Kind::alias;
        p.var = *var;
        out.literal_only_ = out.literal_only_ && *var == LogVar::flags_only;
        break;
      }
    }
    out.parts_.push_back(std::move(p));
  }
  if (!out.literal_only_) out.literal_.clear();
  return out;
}

RenderResult CompiledFormat::render(Facts& facts, std::span<char> out, RenderMode mode) const {
  Writer w(out);
  const bool log = mode == RenderMode::log;
  for (const auto& part : parts_) {
    switch (part.kind) {
      case Part::Kind::literal:
        w.put(part.text);
        break;
      case Part::Kind::sample: {
        RawSample raw = fetch_one(part.sample, facts);
        std::array<char, 64> buf;
        std::string_view text;
        if (raw.value.type == Value::Type::text || raw.value.type == Value::Type::binary) {
          text = raw.value.type == Value::Type::text
                     ? raw.value.text
                     : raw.value.text.substr(0, raw.value.text.find('\0'));
        } else if (raw.value) {
          std::size_t n = value_text(raw.value, buf);
          if (n != std::string_view::npos) text = {buf.data(), n};
        }
        // Logs write "-" for a missing or empty sample, header values nothing (haproxy 2.6
        // sends `X: ` for `set-header X %[req.hdr(nope)]`).
        if (text.empty() && raw.tail.empty()) {
          if (log) w.put("-");
          break;
        }
        const bool encode = !log;
        w.put(text, part.sample.fold(), encode);
        w.put(raw.tail, part.sample.fold(), encode);
        break;
      }
      case Part::Kind::alias: {
        if (part.var == LogVar::flags_only) break;
        Value v = is_derived(part.var) ? derived_alias(part.var, facts) : facts.log_var(part.var);
        if (!v) {
          if (log) w.put("-");
        } else if (v.type == Value::Type::time && is_date(part.var)) {
          put_date(w, v.integer, part.var);
        } else if (v.type == Value::Type::text) {
          w.put(v.text);
        } else {
          std::array<char, 64> buf;
          std::size_t n = value_text(v, buf);
          if (n == std::string_view::npos) break;
          // %ms is "accept date milliseconds (left-padded with 0)".
          if (part.var == LogVar::accept_millis && n < 3) w.put(std::string_view("000", 3 - n));
          w.put({buf.data(), n});
        }
        break;
      }
    }
  }
  return w.result();
}

}  // namespace sluice::rules
