// crt-list files, as HAProxy 2.6's crtlist_parse_file and crtlist_parse_line read them: the line
// syntax, the `[...]` options and their values, and every certificate, CA and CRL file a line
// names. Part of tls_files.hpp; see tls_files.cpp.
#include "runtime/compile/tls_files.hpp"
#include "runtime/compile/tls_pem.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <iterator>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

namespace sluice::compile {

using namespace tls_detail;

namespace {

using SslCtxPtr = std::unique_ptr<SSL_CTX, OpensslFree<SSL_CTX_free>>;

// ---- crt-list (crtlist_parse_file / crtlist_parse_line) -----------------------------------------

constexpr std::size_t kCrtLineSize = 65536;  // CRT_LINESIZE: fgets buffer, so 65535 usable bytes
constexpr std::size_t kMaxCrtArgs = 2048;    // MAX_CRT_ARGS

// Each option HAProxy 2.6 accepts inside `[...]`, with how many values it takes.
struct CrtListKeyword {
  std::string_view name;
  int values;
};
constexpr CrtListKeyword kCrtListKeywords[] = {
    {"allow-0rtt", 0},  {"alpn", 1},         {"ca-file", 1},  {"ca-verify-file", 1},
    {"ciphers", 1},     {"ciphersuites", 1}, {"crl-file", 1}, {"curves", 1},
    {"ecdhe", 1},       {"no-ca-names", 0},  {"npn", 1},      {"ssl-max-ver", 1},
    {"ssl-min-ver", 1}, {"verify", 1},
};

const CrtListKeyword* find_crt_list_keyword(std::string_view name) {
  for (const auto& kw : kCrtListKeywords)
    if (kw.name == name) return &kw;
  return nullptr;
}

// Ordered as HAProxy's methodVersions; the index compares versions.
constexpr std::string_view kTlsVersions[] = {"SSLv3", "TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3"};

std::optional<std::size_t> tls_version_index(std::string_view v) {
  for (std::size_t i = 0; i < std::size(kTlsVersions); ++i)
    if (kTlsVersions[i] == v) return i;
  return std::nullopt;
}

// Joined the way crtlist_parse_file and the ca-file parsers do: absolute paths and '@' names stay.
std::string join_base(const std::string& base, const std::string& path) {
  if (base.empty() || path.empty() || path[0] == '/' || path[0] == '@') return path;
  return base + "/" + path;
}

class CrtListChecker {
 public:
  CrtListChecker(const std::string& list_path, const std::string& crt_base,
                 const std::string& ca_base)
      : list_path_(list_path), crt_base_(crt_base), ca_base_(ca_base) {}

  std::vector<FileProblem> run();
  std::size_t entries() const { return entries_; }
  void count_only() { count_only_ = true; }
  // Keeps each line as the bind will serve it.
  void collect() { collect_ = true; }
  std::vector<config::CertificateEntry>& collected() { return collected_; }

 private:
  void line_problem(std::size_t linenum, std::string message, std::string hint = {}) {
    problems_.push_back(
        {fmt::format("crt-list {} line {}: {}", quoted(list_path_), linenum, std::move(message)),
         std::move(hint)});
  }
  void check_line(std::string_view line, std::size_t linenum);
  void check_options(const std::vector<std::string>& args, std::size_t first, std::size_t end,
                     std::size_t linenum);
  void check_store(const std::string& value, StoreUse use, std::size_t linenum);
  void check_certificate(const std::string& path, std::size_t linenum, bool based);
  void keep_line(const std::vector<std::string>& args, std::size_t ssl_begin, std::size_t ssl_end,
                 std::size_t filters);
  SSL_CTX* scratch_ctx();

  const std::string& list_path_;
  const std::string& crt_base_;
  const std::string& ca_base_;
  bool count_only_ = false;
  bool collect_ = false;
  std::vector<config::CertificateEntry> collected_;
  std::size_t entries_ = 0;
  std::set<std::string> checked_;  // HAProxy loads a certificate once however often it is listed
  SslCtxPtr ctx_;
  std::vector<FileProblem> problems_;
};

}  // namespace

std::vector<FileProblem> check_tls_setting(std::string_view name, const std::string& value) {
  // HAProxy hands these to OpenSSL when it builds the SSL_CTX; so do we, on a scratch one.
  SslCtxPtr ctx(SSL_CTX_new(TLS_method()));
  if (!ctx) return {};
  const long ok = name == "ciphers"        ? SSL_CTX_set_cipher_list(ctx.get(), value.c_str())
                  : name == "ciphersuites" ? SSL_CTX_set_ciphersuites(ctx.get(), value.c_str())
                                           : SSL_CTX_set1_curves_list(ctx.get(), value.c_str());
  ERR_clear_error();
  if (ok == 1) return {};
  return {{fmt::format("OpenSSL rejects {} '{}'", name, value),
           name == "ciphers"        ? "list the valid names with 'openssl ciphers -v'"
           : name == "ciphersuites" ? "TLS 1.3 suites look like "
                                      "'TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384'"
                                    : "curves look like 'X25519:P-256'"}};
}

namespace {

std::vector<FileProblem> CrtListChecker::run() {
  FileRead file = read_file(list_path_);
  if (file.error == EISDIR) {
    // fopen() succeeds on a directory and fgets() then reads nothing: HAProxy sees an empty list,
    // which only fails if the bind ends up with no certificate at all.
    return {};
  }
  if (file.error != 0) {
    problems_.push_back(
        {fmt::format("cannot read crt-list {}: {}", quoted(list_path_), error_text(file.error)),
         {}});
    return std::move(problems_);
  }
  const std::string& data = file.data;
  std::size_t pos = 0;
  std::size_t linenum = 0;
  std::optional<std::size_t> missing_lf;
  // Walk the file in the pieces fgets() would return, so long lines and NUL bytes get
  // HAProxy's verdicts.
  while (pos < data.size()) {
    std::size_t max = std::min(data.size() - pos, kCrtLineSize - 1);
    std::size_t nl = data.find('\n', pos);
    std::size_t len = (nl != std::string::npos && nl - pos < max) ? nl - pos + 1 : max;
    std::string_view piece(data.data() + pos, len);
    pos += len;

    if (missing_lf) {
      line_problem(linenum, fmt::format("stray NUL character at position {}", *missing_lf + 1),
                   "a crt-list is a text file");
      return std::move(problems_);
    }
    ++linenum;
    std::string_view line = piece.substr(0, piece.find('\0'));  // HAProxy sees a C string
    if (line.size() == kCrtLineSize - 1 && line.back() != '\n') {
      line_problem(linenum,
                   fmt::format("line too long, the limit is {} characters", kCrtLineSize - 1));
      return std::move(problems_);
    }
    if (piece[0] == '#' || piece[0] == '\n' || piece[0] == '\r') continue;
    if (!line.empty() && line.back() == '\n') {
      line.remove_suffix(1);
    } else {
      missing_lf = line.size();
    }
    check_line(line, linenum);
  }
  if (missing_lf) {
    line_problem(linenum, "missing newline at the end of the last line",
                 "haproxy takes this for a truncated file; end the line with a newline");
  }
  return std::move(problems_);
}

void CrtListChecker::check_line(std::string_view line, std::size_t linenum) {
  std::vector<std::string> args;
  std::size_t ssl_begin = 0;  // index of the first option, 0 when there is no '['
  std::size_t ssl_end = 0;    // index one past the last option, 0 when there is no ']'
  bool new_arg = true;
  for (char c : line) {
    if (std::isspace(static_cast<unsigned char>(c))) {
      new_arg = true;
    } else if (c == '[') {
      if (ssl_begin != 0) return line_problem(linenum, "too many '['");
      if (args.empty())
        return line_problem(linenum, "the line must start with a certificate path, not '['");
      ssl_begin = args.size();
      new_arg = true;
    } else if (c == ']') {
      if (ssl_end != 0) return line_problem(linenum, "too many ']'");
      if (ssl_begin == 0) return line_problem(linenum, "']' without '['");
      ssl_end = args.size();
      new_arg = true;
    } else {
      if (new_arg) {
        if (args.size() == kMaxCrtArgs)
          return line_problem(linenum, fmt::format("too many words (at most {})", kMaxCrtArgs));
        args.emplace_back();
        new_arg = false;
      }
      args.back() += c;
    }
  }
  if (args.empty()) return;  // blank line
  ++entries_;
  if (count_only_) return;

  // An unclosed '[' is accepted by HAProxy: its words become SNI filters.
  if (ssl_end != 0) check_options(args, ssl_begin, ssl_end, linenum);

  // Words between the path and '[' are dropped by HAProxy (with a warning), not used as filters.
  std::size_t filters = ssl_begin == 0 ? 1 : (ssl_end == 0 ? ssl_begin : ssl_end);
  for (std::size_t i = filters; i < args.size(); ++i) {
    std::string_view name = args[i];
    bool negative = name.starts_with('!');
    if (negative) name.remove_prefix(1);
    bool wildcard = name.starts_with('*');
    if (wildcard) name.remove_prefix(1);
    if (negative && wildcard) continue;  // "!*" filters are ignored whole
    // HAProxy lowercases each name into its tune.bufsize scratch buffer (16384 by default).
    if (name.size() >= kTuneBufsize)
      line_problem(
          linenum,
          fmt::format("SNI filter {} is {} characters long", i - filters + 1, args[i].size()),
          fmt::format("haproxy cannot index names of {} characters or more", kTuneBufsize));
  }

  const std::string& crt = args[0];
  std::string path = join_base(crt_base_, crt);
  if (crt[0] == '#' && !exists(path)) {
    line_problem(linenum, fmt::format("cannot find certificate {}", quoted(path)),
                 "only lines whose very first character is '#' are comments");
    return;
  }
  if (collect_) {
    keep_line(args, ssl_begin, ssl_end, filters);
    return;
  }
  check_certificate(path, linenum, path != crt);
}

void CrtListChecker::keep_line(const std::vector<std::string>& args, std::size_t ssl_begin,
                               std::size_t ssl_end, std::size_t filters) {
  config::CertificateEntry e;
  e.path = join_base(crt_base_, args[0]);
  for (std::size_t i = ssl_begin; ssl_end != 0 && i < ssl_end; ++i) {
    const std::string& name = args[i];
    const CrtListKeyword* kw = find_crt_list_keyword(name);
    if (kw == nullptr || i + 1 + kw->values > ssl_end) break;
    const std::string value = kw->values > 0 ? args[i + 1] : std::string();
    auto version = [](const std::string& v) {
      static constexpr config::TlsVersion kVersions[] = {
          config::TlsVersion::ssl3, config::TlsVersion::tls1_0, config::TlsVersion::tls1_1,
          config::TlsVersion::tls1_2, config::TlsVersion::tls1_3};
      const auto index = tls_version_index(v);
      return index ? kVersions[*index] : config::TlsVersion::unset;
    };
    if (name == "alpn")
      e.alpn = value;
    else if (name == "ciphers")
      e.ciphers = value;
    else if (name == "ciphersuites")
      e.ciphersuites = value;
    else if (name == "curves")
      e.curves = value;
    else if (name == "ca-file")
      e.ca_file = join_base(ca_base_, value);
    else if (name == "crl-file")
      e.crl_file = join_base(ca_base_, value);
    else if (name == "verify")
      e.verify = value == "required"   ? config::Verify::required
                 : value == "optional" ? config::Verify::optional
                                       : config::Verify::none;
    else if (name == "ssl-min-ver")
      e.min_version = version(value);
    else if (name == "ssl-max-ver")
      e.max_version = version(value);
    else if (name == "no-ca-names")
      e.no_ca_names = true;
    i += static_cast<std::size_t>(kw->values);
  }
  for (std::size_t i = filters; i < args.size(); ++i) {
    std::string name = args[i];
    for (char& c : name)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (name.starts_with("!*")) continue;  // HAProxy ignores these whole
    if (name.starts_with('!'))
      e.exclusions.push_back(name.substr(1));
    else
      e.filters.push_back(std::move(name));
  }
  collected_.push_back(std::move(e));
}

void CrtListChecker::check_options(const std::vector<std::string>& args, std::size_t first,
                                   std::size_t end, std::size_t linenum) {
  std::optional<std::size_t> min_version;
  std::optional<std::size_t> max_version;
  bool has_curves = false;
  std::optional<std::string> ecdhe;
  for (std::size_t i = first; i < end;) {
    const std::string& name = args[i];
    const CrtListKeyword* kw = find_crt_list_keyword(name);
    if (kw == nullptr) {
      line_problem(linenum, fmt::format("unknown option '{}' in '[...]'", name),
                   "crt-list options are allow-0rtt, alpn, ca-file, ca-verify-file, ciphers, "
                   "ciphersuites, crl-file, curves, ecdhe, no-ca-names, npn, ssl-max-ver, "
                   "ssl-min-ver and verify");
      return;
    }
    if (i + 1 + kw->values > end) {
      line_problem(linenum, fmt::format("option '{}' needs a value inside the '[...]'", name));
      return;
    }
    const std::string value = kw->values > 0 ? args[i + 1] : std::string();
    if (name == "verify") {
      if (value != "none" && value != "optional" && value != "required")
        line_problem(linenum, fmt::format("unknown verify method '{}'", value),
                     "use none, optional or required");
    } else if (name == "ssl-min-ver" || name == "ssl-max-ver") {
      auto index = tls_version_index(value);
      if (!index) {
        line_problem(linenum, fmt::format("unknown SSL/TLS version '{}' for '{}'", value, name),
                     "use SSLv3, TLSv1.0, TLSv1.1, TLSv1.2 or TLSv1.3");
      } else {
        (name == "ssl-min-ver" ? min_version : max_version) = index;
      }
    } else if (name == "alpn" || name == "npn") {
      std::size_t start = 0;
      while (true) {
        std::size_t comma = value.find(',', start);
        std::size_t len = (comma == std::string::npos ? value.size() : comma) - start;
        if (len > 255) {
          line_problem(linenum, fmt::format("{} protocol name longer than 255 characters in '{}'",
                                            name, value));
          break;
        }
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
    } else if (name == "ca-file" || name == "ca-verify-file") {
      check_store(value, StoreUse::ca, linenum);
    } else if (name == "crl-file") {
      check_store(value, StoreUse::crl, linenum);
    } else if (name == "ciphers" || name == "ciphersuites" || name == "curves") {
      for (auto& problem : check_tls_setting(name, value))
        line_problem(linenum, std::move(problem.message), std::move(problem.hint));
      if (name == "curves") has_curves = true;
    } else if (name == "ecdhe") {
      ecdhe = value;
    }
    i += 1 + kw->values;
  }
  // HAProxy ignores ecdhe when curves is set.
  if (ecdhe && !has_curves) {
    SSL_CTX* ctx = scratch_ctx();
    if (ctx != nullptr && SSL_CTX_set1_curves_list(ctx, ecdhe->c_str()) != 1)
      line_problem(linenum, fmt::format("OpenSSL rejects ecdhe curve '{}'", *ecdhe),
                   "name one curve, e.g. 'prime256v1' or 'X25519'");
    ERR_clear_error();
  }
  if (min_version && max_version && *min_version > *max_version) {
    line_problem(linenum,
                 fmt::format("ssl-min-ver {} is above ssl-max-ver {}: no TLS version is left",
                             kTlsVersions[*min_version], kTlsVersions[*max_version]));
  } else if (max_version && *max_version == 0) {
    line_problem(linenum, "ssl-max-ver SSLv3 leaves no TLS version: OpenSSL 3 has no SSLv3");
  }
}

void CrtListChecker::check_store(const std::string& value, StoreUse use, std::size_t linenum) {
  for (auto& p : check_store_file(join_base(ca_base_, value), use))
    line_problem(linenum, std::move(p.message), std::move(p.hint));
}

// `based`: the path was relative and got crt-base prepended.
void CrtListChecker::check_certificate(const std::string& path, std::size_t linenum, bool based) {
  if (!checked_.insert(path).second) return;
  std::vector<FileProblem> found;
  if (auto st = stat_path(path)) {
    if (S_ISDIR(st->st_mode)) {
      // HAProxy 2.6 spins forever on this; refuse it plainly.
      line_problem(linenum, fmt::format("{} is a directory", quoted(path)),
                   "a crt-list line names one certificate file; list the directory's files one "
                   "per line, or use 'crt DIR' on the bind line");
      return;
    }
    check_certificate_file(path, CertUse::bind, found);
  } else {
    const int err = errno;
    if (!check_certificate_bundle(path, found))
      found.push_back({fmt::format("cannot find certificate {}: {}", quoted(path), error_text(err)),
                       !based
                           ? std::string()
                           : fmt::format("relative paths in a crt-list are taken from crt-base {}",
                                         quoted(crt_base_))});
  }
  for (auto& p : found)
    line_problem(linenum, std::move(p.message), std::move(p.hint));
}

SSL_CTX* CrtListChecker::scratch_ctx() {
  if (!ctx_) ctx_.reset(SSL_CTX_new(TLS_server_method()));
  ERR_clear_error();
  return ctx_.get();
}

}  // namespace

// ---- public interface ---------------------------------------------------------------------------

std::vector<FileProblem> check_crt_list(const std::string& path, const std::string& crt_base,
                                        const std::string& ca_base) {
  ErrorQueueScope scope;
  CrtListChecker checker(path, crt_base, ca_base);
  return checker.run();
}

std::vector<config::CertificateEntry> read_crt_list(const std::string& path,
                                                    const std::string& crt_base,
                                                    const std::string& ca_base) {
  ErrorQueueScope scope;
  CrtListChecker reader(path, crt_base, ca_base);
  reader.collect();
  reader.run();
  return std::move(reader.collected());
}

std::size_t count_crt_list_certificates(const std::string& path) {
  static const std::string none;
  CrtListChecker checker(path, none, none);
  checker.count_only();
  checker.run();
  return checker.entries();
}

}  // namespace sluice::compile
