// Mirrors HAProxy 2.6's loaders (ssl_ckch.c, ssl_crtlist.c, ssl_sock.c) closely enough that each
// verdict matches `haproxy -c`; the wording is ours. Where HAProxy hangs (a directory given as a
// crt-list entry or as ssl-dh-param-file) there is no verdict to match and we reject.
#include "runtime/compile/tls_files.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <memory>
#include <optional>
#include <set>
#include <string_view>
#include <utility>

#include <fmt/format.h>

namespace sluice::compile {
namespace {

// ---- OpenSSL ownership --------------------------------------------------------------------------

template <auto Free>
struct OpensslFree {
  template <typename T>
  void operator()(T* p) const noexcept {
    Free(p);
  }
};

void free_info_stack(STACK_OF(X509_INFO) * s) {
  sk_X509_INFO_pop_free(s, X509_INFO_free);
}

using BioPtr = std::unique_ptr<BIO, OpensslFree<BIO_free>>;
using X509Ptr = std::unique_ptr<X509, OpensslFree<X509_free>>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, OpensslFree<EVP_PKEY_free>>;
using InfoStackPtr = std::unique_ptr<STACK_OF(X509_INFO), OpensslFree<free_info_stack>>;
using DecoderCtxPtr = std::unique_ptr<OSSL_DECODER_CTX, OpensslFree<OSSL_DECODER_CTX_free>>;
using SslCtxPtr = std::unique_ptr<SSL_CTX, OpensslFree<SSL_CTX_free>>;

// Failures leave entries in OpenSSL's thread-local error queue; a stale entry would be misread by
// the next check (HAProxy's chain test reads the queue), so each public call starts and ends clean.
struct ErrorQueueScope {
  ErrorQueueScope() { ERR_clear_error(); }
  ~ErrorQueueScope() { ERR_clear_error(); }
  ErrorQueueScope(const ErrorQueueScope&) = delete;
  ErrorQueueScope& operator=(const ErrorQueueScope&) = delete;
};

// The reason of the earliest queued OpenSSL failure (the root cause; later entries only wrap it
// as "ASN1 lib" and the like), consuming the queue.
std::string openssl_reason() {
  unsigned long code = ERR_peek_error();
  const char* reason = code != 0 ? ERR_reason_error_string(code) : nullptr;
  ERR_clear_error();
  return reason != nullptr ? reason : "unknown OpenSSL error";
}

// A memory BIO over `data`, which must outlive it. Reading the file ourselves (instead of a file
// BIO) gives us errno for open failures and keeps directories from reaching OpenSSL.
BioPtr memory_bio(const std::string& data) {
  return BioPtr(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
}

// Passing no callback would make OpenSSL prompt on the terminal, as `haproxy -c` does; a check
// must never block, and HAProxy gets no passphrase at startup either, so refuse and remember.
int refuse_passphrase(char* /*buf*/, int /*size*/, int /*rwflag*/, void* asked) {
  *static_cast<bool*>(asked) = true;
  return -1;
}

// ---- files --------------------------------------------------------------------------------------

std::string quoted(std::string_view path) {
  return fmt::format("'{}'", path);
}

std::string error_text(int err) {
  return std::strerror(err);
}

struct FileRead {
  std::string data;
  int error = 0;  // errno when the file could not be read
};

// Reads at most `limit` bytes, as HAProxy reads .sctl and .ocsp files into one buffer.
FileRead read_file(const std::string& path, std::size_t limit = SIZE_MAX) {
  FileRead r;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    r.error = errno;
    return r;
  }
  char buf[16384];
  while (r.data.size() < limit) {
    ssize_t n = ::read(fd, buf, std::min(sizeof buf, limit - r.data.size()));
    if (n < 0) {
      if (errno == EINTR) continue;
      r.error = errno;
      break;
    }
    if (n == 0) break;
    r.data.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  // OpenSSL BIOs take an int length; no legitimate PEM file comes near it.
  if (r.error == 0 && r.data.size() > static_cast<std::size_t>(INT_MAX)) r.error = EFBIG;
  return r;
}

// nullopt leaves errno set by stat().
std::optional<struct stat> stat_path(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  return st;
}

bool exists(const std::string& path) {
  return stat_path(path).has_value();
}

// tune.bufsize (16384 unless tuned): HAProxy reads .sctl and .ocsp files into, and lowercases SNI
// filters in, buffers of this size.
constexpr std::size_t kTuneBufsize = 16384;

// ---- describing PEM content ---------------------------------------------------------------------

// Labels of the PEM blocks in `text` ("CERTIFICATE", "PRIVATE KEY", ...), in order.
std::vector<std::string> pem_labels(std::string_view text) {
  std::vector<std::string> labels;
  constexpr std::string_view begin = "-----BEGIN ";
  for (std::size_t at = text.find(begin); at != std::string_view::npos;
       at = text.find(begin, at + 1)) {
    std::size_t start = at + begin.size();
    std::size_t end = text.find("-----", start);
    std::size_t eol = text.find('\n', start);
    if (end == std::string_view::npos || (eol != std::string_view::npos && eol < end)) continue;
    labels.emplace_back(text.substr(start, end - start));
  }
  return labels;
}

std::string join_labels(const std::vector<std::string>& labels) {
  std::set<std::string> seen;
  std::string out;
  for (const auto& l : labels) {
    if (!seen.insert(l).second) continue;
    if (!out.empty()) out += ", ";
    out += l;
  }
  return out;
}

bool has_label(const std::vector<std::string>& labels, std::string_view wanted) {
  for (const auto& l : labels)
    if (l == wanted) return true;
  return false;
}

// DER starts with an ASN.1 SEQUENCE tag; a PEM file never does.
bool looks_like_der(std::string_view data) {
  return data.size() > 2 && static_cast<unsigned char>(data[0]) == 0x30;
}

// Explains why `data`, read from `path`, yielded nothing of `wanted` (e.g. "certificate").
// `kind` names the file's role in the message ("certificate file", "CA file", ...); `der_tool`
// is the openssl subcommand that converts such content from DER ("x509", "crl", ...).
FileProblem describe_nothing_found(const std::string& path, std::string_view data,
                                   std::string_view kind, std::string_view wanted, std::string hint,
                                   std::string_view der_tool = "x509") {
  if (data.empty()) return {fmt::format("{} {} is empty", kind, quoted(path)), std::move(hint)};
  auto labels = pem_labels(data);
  if (labels.empty()) {
    if (looks_like_der(data))
      return {fmt::format("{} {} is not PEM (it looks like binary DER)", kind, quoted(path)),
              fmt::format("convert it, e.g. 'openssl {0} -inform der -in {1} -out {1}.pem'",
                          der_tool, path)};
    return {fmt::format("{} {} is not PEM: it has no '-----BEGIN' line", kind, quoted(path)),
            std::move(hint)};
  }
  return {fmt::format("{} {} holds no {} (it has: {})", kind, quoted(path), wanted,
                      join_labels(labels)),
          std::move(hint)};
}

// ---- certificate files (ssl_sock_load_files_into_ckch) ------------------------------------------

enum class CertUse { bind, server };

constexpr std::string_view kCertLayoutHint =
    "a crt file holds the certificate first, then its chain and private key, e.g. "
    "'cat cert.pem chain.pem key.pem > combined.pem'";

struct KeyLoad {
  PkeyPtr key;
  bool encrypted = false;
};

// The first private key of the PEM text, as PEM_read_bio_PrivateKey finds it.
KeyLoad read_first_key(const std::string& data) {
  KeyLoad r;
  BioPtr bio = memory_bio(data);
  if (!bio) return r;
  r.key.reset(PEM_read_bio_PrivateKey(bio.get(), nullptr, refuse_passphrase, &r.encrypted));
  ERR_clear_error();
  return r;
}

// SCTL syntax as ssl_sock_parse_sctl checks it: a 2-byte length, then length-prefixed entries.
bool valid_sctl(std::string_view d) {
  auto byte = [&](std::size_t i) {
    return static_cast<std::size_t>(static_cast<unsigned char>(d[i]));
  };
  if (d.size() < 2) return false;
  std::size_t len = (byte(0) << 8) | byte(1);
  if (len + 2 != d.size()) return false;
  std::size_t pos = 0;
  while (pos < len) {
    if (len - pos < 2) return false;
    std::size_t sct_len = (byte(2 + pos) << 8) | byte(2 + pos + 1);
    if (pos + sct_len + 2 > len) return false;
    pos += sct_len + 2;
  }
  return true;
}

// Checks one certificate file and the extra files HAProxy picks up beside it. Stops at the first
// problem, as HAProxy does: later steps depend on the earlier ones having succeeded.
void check_certificate_file(const std::string& path, CertUse use, std::vector<FileProblem>& out) {
  FileRead file = read_file(path);
  if (file.error != 0) {
    out.push_back(
        {fmt::format("cannot read certificate file {}: {}", quoted(path), error_text(file.error)),
         {}});
    return;
  }
  BioPtr bio = memory_bio(file.data);
  if (!bio) {
    out.push_back({fmt::format("cannot load {}: {}", quoted(path), openssl_reason()), {}});
    return;
  }

  // HAProxy reads the key, rewinds, reads the leaf, then whatever certificates follow.
  bool key_encrypted = false;
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, refuse_passphrase, &key_encrypted));
  ERR_clear_error();
  BIO_reset(bio.get());

  X509Ptr cert(PEM_read_bio_X509_AUX(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) {
    auto labels = pem_labels(file.data);
    if (has_label(labels, "CERTIFICATE") || has_label(labels, "TRUSTED CERTIFICATE") ||
        has_label(labels, "X509 CERTIFICATE")) {
      out.push_back({fmt::format("the certificate in {} cannot be parsed: {}", quoted(path),
                                 openssl_reason()),
                     {}});
    } else {
      ERR_clear_error();
      out.push_back(describe_nothing_found(path, file.data, "certificate file", "certificate",
                                           std::string(kCertLayoutHint)));
    }
    return;
  }
  ERR_clear_error();

  std::vector<X509Ptr> chain;
  while (X509* ca = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr))
    chain.emplace_back(ca);
  // HAProxy 2.6 tests `lib != PEM && reason != NO_START_LINE`, so any PEM-layer damage (bad
  // base64, truncated block) in the chain passes while undecodable DER fails; keep that verdict.
  unsigned long chain_error = ERR_get_error();
  if (chain_error != 0 && ERR_GET_LIB(chain_error) != ERR_LIB_PEM &&
      ERR_GET_REASON(chain_error) != PEM_R_NO_START_LINE) {
    const char* reason = ERR_reason_error_string(chain_error);
    ERR_clear_error();
    out.push_back({fmt::format("certificate {} of {} (in the chain after the leaf) cannot be "
                               "parsed: {}",
                               chain.size() + 2, quoted(path), reason ? reason : "invalid data"),
                   "remove or replace the damaged block"});
    return;
  }
  ERR_clear_error();

  std::string key_source = path;
  if (!key) {
    std::string key_path = path + ".key";
    if (exists(key_path)) {
      FileRead key_file = read_file(key_path);
      if (key_file.error != 0) {
        out.push_back({fmt::format("cannot read private key file {}: {}", quoted(key_path),
                                   error_text(key_file.error)),
                       {}});
        return;
      }
      KeyLoad side = read_first_key(key_file.data);
      if (!side.key) {
        if (side.encrypted) {
          out.push_back({fmt::format("the private key in {} is encrypted, and haproxy cannot ask "
                                     "for a passphrase",
                                     quoted(key_path)),
                         fmt::format("store it decrypted: 'openssl pkey -in {0} -out {0}' (then "
                                     "restrict the file's permissions)",
                                     key_path)});
        } else {
          out.push_back(describe_nothing_found(
              key_path, key_file.data, "private key file", "private key",
              fmt::format("haproxy reads it because {} holds no private key", quoted(path)),
              "pkey"));
        }
        return;
      }
      key = std::move(side.key);
      key_source = key_path;
    }
  }
  if (!key) {
    if (key_encrypted) {
      out.push_back({fmt::format("the private key in {} is encrypted, and haproxy cannot ask for "
                                 "a passphrase",
                                 quoted(path)),
                     "store the key decrypted ('openssl pkey -in KEY -out KEY.plain'), in the "
                     "file or beside it as '" +
                         path + ".key'"});
    } else {
      std::string hint = fmt::format(
          "append the key to the certificate ('cat cert.pem key.pem > combined.pem') or store it "
          "as '{}.key'",
          path);
      // The usual site.crt + site.key pair: HAProxy appends ".key", it does not replace ".crt".
      if (path.ends_with(".crt") && exists(path.substr(0, path.size() - 4) + ".key"))
        hint = fmt::format(
            "'{0}.key' exists, but haproxy looks for '{1}.key' (unless "
            "'ssl-load-extra-del-ext' is set); rename it",
            path.substr(0, path.size() - 4), path);
      out.push_back({fmt::format("no private key in {}, and no {} beside it", quoted(path),
                                 quoted(path + ".key")),
                     std::move(hint)});
    }
    return;
  }

  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    ERR_clear_error();
    std::string message =
        key_source == path
            ? fmt::format("the private key in {} does not match its certificate", quoted(path))
            : fmt::format("the private key in {} does not match the certificate in {}",
                          quoted(key_source), quoted(path));
    // Naming both key types makes the common mix-up (an RSA key beside an ECDSA cert) obvious.
    EVP_PKEY* cert_key = X509_get0_pubkey(cert.get());
    const char* cert_type = cert_key != nullptr ? EVP_PKEY_get0_type_name(cert_key) : nullptr;
    const char* key_type = EVP_PKEY_get0_type_name(key.get());
    if (cert_type != nullptr && key_type != nullptr && std::strcmp(cert_type, key_type) != 0)
      message +=
          fmt::format(" (the certificate's key is {}, the private key is {})", cert_type, key_type);
    ERR_clear_error();
    out.push_back({std::move(message),
                   fmt::format("the first certificate and the first private key must form a "
                               "pair; compare 'openssl x509 -noout -pubkey -in {}' with 'openssl "
                               "pkey -pubout -in {}'",
                               path, key_source)});
    return;
  }

  std::string sctl_path = path + ".sctl";
  if (exists(sctl_path)) {
    FileRead sctl = read_file(sctl_path, kTuneBufsize);
    if (sctl.error != 0) {
      out.push_back(
          {fmt::format("cannot read {}: {}", quoted(sctl_path), error_text(sctl.error)), {}});
      return;
    }
    if (!valid_sctl(sctl.data)) {
      out.push_back(
          {fmt::format("{} is not a valid Signed Certificate Timestamp List", quoted(sctl_path)),
           fmt::format("haproxy loads it because it sits beside {}; fix or remove it",
                       quoted(path))});
      return;
    }
  }

  std::string ocsp_path = path + ".ocsp";
  if (!exists(ocsp_path)) return;
  // The response's content is only warned about at startup; opening it is what must succeed.
  FileRead ocsp = read_file(ocsp_path, kTuneBufsize);
  if (ocsp.error != 0) {
    out.push_back(
        {fmt::format("cannot read OCSP response {}: {}", quoted(ocsp_path), error_text(ocsp.error)),
         {}});
    return;
  }
  bool issuer_found = false;
  for (const auto& ca : chain) {
    if (X509_check_issued(ca.get(), cert.get()) == X509_V_OK) {
      issuer_found = true;
      break;
    }
  }
  std::string issuer_path = path + ".issuer";
  if (!issuer_found && exists(issuer_path)) {
    FileRead issuer_file = read_file(issuer_path);
    if (issuer_file.error != 0) {
      out.push_back({fmt::format("cannot read issuer certificate {}: {}", quoted(issuer_path),
                                 error_text(issuer_file.error)),
                     {}});
      return;
    }
    BioPtr issuer_bio = memory_bio(issuer_file.data);
    X509Ptr issuer(issuer_bio ? PEM_read_bio_X509_AUX(issuer_bio.get(), nullptr, nullptr, nullptr)
                              : nullptr);
    ERR_clear_error();
    if (!issuer) {
      out.push_back(describe_nothing_found(
          issuer_path, issuer_file.data, "issuer file", "certificate",
          fmt::format("it must hold the CA certificate that issued {}", quoted(path))));
      return;
    }
    if (X509_check_issued(issuer.get(), cert.get()) != X509_V_OK) {
      out.push_back(
          {fmt::format("{} did not issue the certificate in {}", quoted(issuer_path), quoted(path)),
           "it must hold the CA certificate that signed it"});
      return;
    }
    issuer_found = true;
  }
  // Only a bind computes the OCSP certificate ID, which needs the issuer.
  if (!issuer_found && use == CertUse::bind) {
    out.push_back(
        {fmt::format("{} enables OCSP stapling, but the issuer of the certificate in {} is "
                     "neither in its chain nor in {}",
                     quoted(ocsp_path), quoted(path), quoted(issuer_path)),
         "append the issuing CA certificate to the PEM file, store it as '" + issuer_path +
             "', or remove the .ocsp file"});
  }
}

// ---- bind crt: file, bundle or directory --------------------------------------------------------

constexpr const char* kBundleSuffixes[] = {"dsa", "ecdsa", "rsa"};

// HAProxy's directory filter: dot-files and the reserved extra-file extensions are not certs.
bool skipped_in_cert_directory(const char* name) {
  const char* dot = std::strrchr(name, '.');
  if (dot == nullptr) return false;
  return name[0] == '.' || std::strcmp(dot, ".issuer") == 0 || std::strcmp(dot, ".ocsp") == 0 ||
         std::strcmp(dot, ".sctl") == 0 || std::strcmp(dot, ".key") == 0;
}

struct DirEntries {
  std::vector<std::string> names;  // alphabetical, like scandir(..., alphasort)
  int error = 0;
};

DirEntries list_directory(const std::string& dir) {
  DirEntries r;
  struct dirent** list = nullptr;
  int n = ::scandir(dir.c_str(), &list, nullptr, alphasort);
  if (n < 0) {
    r.error = errno;
    return r;
  }
  for (int i = 0; i < n; ++i) {
    r.names.emplace_back(list[i]->d_name);
    std::free(list[i]);
  }
  std::free(list);
  return r;
}

std::string join_path(const std::string& dir, const std::string& name) {
  return dir + "/" + name;
}

// Calls `each(full_path)` for every file HAProxy would load from a crt directory; stat failures
// (dangling links) are problems, as they are for HAProxy.
template <typename Each>
void for_each_directory_certificate(const std::string& dir, std::vector<FileProblem>* out,
                                    Each each) {
  DirEntries entries = list_directory(dir);
  if (entries.error != 0) {
    if (out)
      out->push_back({fmt::format("cannot list certificate directory {}: {}", quoted(dir),
                                  error_text(entries.error)),
                      {}});
    return;
  }
  for (const auto& name : entries.names) {
    if (skipped_in_cert_directory(name.c_str())) continue;
    std::string full = join_path(dir, name);
    struct stat st {};
    if (::stat(full.c_str(), &st) != 0) {
      int err = errno;
      if (out)
        out->push_back({fmt::format("cannot stat {} in certificate directory {}: {}", quoted(full),
                                    quoted(dir), error_text(err)),
                        err == ENOENT ? "a dangling symbolic link? haproxy loads every file of "
                                        "the directory except dot-files, *.key, *.ocsp, "
                                        "*.issuer and *.sctl"
                                      : ""});
      continue;
    }
    if (!S_ISREG(st.st_mode)) continue;
    each(full);
  }
}

// ---- CA and CRL files (ssl_store_load_locations_file) -------------------------------------------

enum class StoreUse { ca, crl };

std::string_view store_kind(StoreUse use) {
  return use == StoreUse::ca ? "CA file" : "CRL file";
}

struct StoreCounts {
  std::size_t certs = 0;
  std::size_t crls = 0;
};

// X509_load_cert_crl_file's view of a PEM file; nullopt when OpenSSL refuses the PEM outright.
std::optional<StoreCounts> count_store_objects(const std::string& data) {
  BioPtr bio = memory_bio(data);
  if (!bio) return std::nullopt;
  InfoStackPtr infos(PEM_X509_INFO_read_bio(bio.get(), nullptr, nullptr, nullptr));
  if (!infos) return std::nullopt;
  StoreCounts counts;
  for (int i = 0; i < sk_X509_INFO_num(infos.get()); ++i) {
    X509_INFO* info = sk_X509_INFO_value(infos.get(), i);
    if (info->x509 != nullptr) ++counts.certs;
    if (info->crl != nullptr) ++counts.crls;
  }
  return counts;
}

std::vector<FileProblem> check_store_file(const std::string& path, StoreUse use) {
  ErrorQueueScope scope;
  std::vector<FileProblem> out;
  // HAProxy's name for the system trust store, not a file.
  if (path == "@system-ca") return out;
  auto st = stat_path(path);
  if (!st) {
    int err = errno;  // before anything else can clobber it
    out.push_back(
        {fmt::format("cannot read {} {}: {}", store_kind(use), quoted(path), error_text(err)), {}});
    return out;
  }
  if (S_ISDIR(st->st_mode)) {
    // Whatever a listable directory holds is accepted (HAProxy only warns, see lint_*); failing
    // to list it is fatal.
    DirEntries entries = list_directory(path);
    if (entries.error != 0)
      out.push_back({fmt::format("cannot list {} directory {}: {}", store_kind(use), quoted(path),
                                 error_text(entries.error)),
                     {}});
    return out;
  }
  FileRead file = read_file(path);
  if (file.error != 0) {
    out.push_back({fmt::format("cannot read {} {}: {}", store_kind(use), quoted(path),
                               error_text(file.error)),
                   {}});
    return out;
  }
  auto counts = count_store_objects(file.data);
  if (!counts) {
    out.push_back(
        {fmt::format("{} {} cannot be parsed: {}", store_kind(use), quoted(path), openssl_reason()),
         "every PEM block in it must be intact"});
    return out;
  }
  if (counts->certs + counts->crls == 0) {
    out.push_back(describe_nothing_found(
        path, file.data, store_kind(use), "certificate or CRL",
        use == StoreUse::ca ? "a ca-file holds PEM CA certificates ('-----BEGIN CERTIFICATE-----')"
                            : "a crl-file holds PEM CRLs ('-----BEGIN X509 CRL-----')",
        use == StoreUse::ca ? "x509" : "crl"));
  }
  return out;
}

// How many files of a ca-file/crl-file directory HAProxy loads a CA from: the first certificate
// of each *.pem, *.crt, *.cer and *.crl file, dot-files excluded. It never loads CRLs from there.
std::size_t count_directory_certificates(const std::string& dir) {
  DirEntries entries = list_directory(dir);
  std::size_t loaded = 0;
  for (const auto& name : entries.names) {
    const char* dot = std::strrchr(name.c_str(), '.');
    if (name[0] == '.' || dot == nullptr) continue;
    if (std::strcmp(dot, ".pem") != 0 && std::strcmp(dot, ".crt") != 0 &&
        std::strcmp(dot, ".cer") != 0 && std::strcmp(dot, ".crl") != 0)
      continue;
    FileRead file = read_file(join_path(dir, name));
    if (file.error != 0) continue;
    BioPtr bio = memory_bio(file.data);
    X509Ptr cert(bio ? PEM_read_bio_X509_AUX(bio.get(), nullptr, nullptr, nullptr) : nullptr);
    if (cert) ++loaded;
  }
  ERR_clear_error();
  return loaded;
}

std::vector<FileProblem> lint_store_file(const std::string& path, StoreUse use) {
  ErrorQueueScope scope;
  std::vector<FileProblem> out;
  if (path == "@system-ca") return out;
  auto st = stat_path(path);
  if (!st) return out;  // check_* reports it
  if (S_ISDIR(st->st_mode)) {
    if (use == StoreUse::crl) {
      out.push_back(
          {fmt::format("CRL file {} is a directory, from which haproxy loads no CRL", quoted(path)),
           "haproxy loads only the first certificate of each file in a directory; "
           "name a PEM file of CRLs instead"});
    } else if (count_directory_certificates(path) == 0) {
      out.push_back({fmt::format("CA file directory {} provides no CA certificate", quoted(path)),
                     "haproxy loads the first certificate of each *.pem, *.crt, *.cer and *.crl "
                     "file there"});
    }
    return out;
  }
  FileRead file = read_file(path);
  if (file.error != 0) return out;
  auto counts = count_store_objects(file.data);
  if (!counts || counts->certs + counts->crls == 0) return out;  // check_* rejects these
  if (use == StoreUse::ca && counts->certs == 0) {
    out.push_back({fmt::format("CA file {} holds only CRLs, no CA certificate", quoted(path)),
                   "haproxy accepts it, but no peer certificate can be verified against it; "
                   "was it meant for crl-file?"});
  }
  if (use == StoreUse::crl && counts->crls == 0) {
    out.push_back({fmt::format("CRL file {} holds no CRL, only certificates", quoted(path)),
                   "haproxy accepts it, but then checks no revocation; was it meant for "
                   "ca-file?"});
  }
  return out;
}

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
  SSL_CTX* scratch_ctx();

  const std::string& list_path_;
  const std::string& crt_base_;
  const std::string& ca_base_;
  bool count_only_ = false;
  std::size_t entries_ = 0;
  std::set<std::string> checked_;  // HAProxy loads a certificate once however often it is listed
  SslCtxPtr ctx_;
  std::vector<FileProblem> problems_;
};

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
  check_certificate(path, linenum, path != crt);
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
      // HAProxy hands these to OpenSSL when it builds the line's SSL_CTX; so do we.
      SSL_CTX* ctx = scratch_ctx();
      long ok = ctx == nullptr           ? 1
                : name == "ciphers"      ? SSL_CTX_set_cipher_list(ctx, value.c_str())
                : name == "ciphersuites" ? SSL_CTX_set_ciphersuites(ctx, value.c_str())
                                         : SSL_CTX_set1_curves_list(ctx, value.c_str());
      ERR_clear_error();
      if (ok != 1)
        line_problem(linenum, fmt::format("OpenSSL rejects {} '{}'", name, value),
                     name == "ciphers"        ? "list the valid names with 'openssl ciphers -v'"
                     : name == "ciphersuites" ? "TLS 1.3 suites look like "
                                                "'TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384'"
                                              : "curves look like 'X25519:P-256'");
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
    int err = errno;
    bool bundle = false;
    for (const char* suffix : kBundleSuffixes) {
      std::string part = path + "." + suffix;
      if (!exists(part)) continue;
      bundle = true;
      check_certificate_file(part, CertUse::bind, found);
    }
    if (!bundle)
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

std::vector<FileProblem> check_bind_certificate(const std::string& path) {
  ErrorQueueScope scope;
  std::vector<FileProblem> out;
  auto st = stat_path(path);
  if (st) {
    if (S_ISDIR(st->st_mode)) {
      for_each_directory_certificate(path, &out, [&](const std::string& file) {
        check_certificate_file(file, CertUse::bind, out);
      });
    } else {
      check_certificate_file(path, CertUse::bind, out);
    }
    return out;
  }
  int err = errno;
  bool bundle = false;
  for (const char* suffix : kBundleSuffixes) {
    std::string part = path + "." + suffix;
    if (!exists(part)) continue;
    bundle = true;
    check_certificate_file(part, CertUse::bind, out);
  }
  if (!bundle)
    out.push_back(
        {fmt::format("cannot find certificate {}: {}", quoted(path), error_text(err)), {}});
  return out;
}

std::vector<FileProblem> check_crt_list(const std::string& path, const std::string& crt_base,
                                        const std::string& ca_base) {
  ErrorQueueScope scope;
  CrtListChecker checker(path, crt_base, ca_base);
  return checker.run();
}

std::vector<FileProblem> check_ca_file(const std::string& path) {
  return check_store_file(path, StoreUse::ca);
}

std::vector<FileProblem> check_crl_file(const std::string& path) {
  return check_store_file(path, StoreUse::crl);
}

std::vector<FileProblem> check_client_certificate(const std::string& path) {
  ErrorQueueScope scope;
  std::vector<FileProblem> out;
  auto st = stat_path(path);
  if (!st) {
    int err = errno;  // before anything else can clobber it
    std::string hint;
    for (const char* suffix : kBundleSuffixes) {
      if (exists(path + "." + suffix)) {
        hint = fmt::format(
            "'{}.{}' exists, but a server crt is never loaded as a bundle; name "
            "that file instead",
            path, suffix);
        break;
      }
    }
    out.push_back({fmt::format("cannot find certificate {}: {}", quoted(path), error_text(err)),
                   std::move(hint)});
    return out;
  }
  if (S_ISDIR(st->st_mode)) {
    out.push_back({fmt::format("{} is a directory", quoted(path)),
                   "a server 'crt' names one PEM file with the client certificate and its key; "
                   "only bind lines load directories"});
    return out;
  }
  check_certificate_file(path, CertUse::server, out);
  return out;
}

std::vector<FileProblem> check_dh_param_file(const std::string& path) {
  ErrorQueueScope scope;
  std::vector<FileProblem> out;
  auto st = stat_path(path);
  if (!st) {
    int err = errno;  // before anything else can clobber it
    out.push_back(
        {fmt::format("cannot read DH parameter file {}: {}", quoted(path), error_text(err)), {}});
    return out;
  }
  if (S_ISDIR(st->st_mode)) {
    // HAProxy 2.6 loops forever on a directory here.
    out.push_back({fmt::format("DH parameter file {} is a directory", quoted(path)),
                   "generate a file with 'openssl dhparam -out dhparam.pem 2048'"});
    return out;
  }
  FileRead file = read_file(path);
  if (file.error != 0) {
    out.push_back(
        {fmt::format("cannot read DH parameter file {}: {}", quoted(path), error_text(file.error)),
         {}});
    return out;
  }
  BioPtr bio = memory_bio(file.data);
  EVP_PKEY* raw = nullptr;
  // The decoder HAProxy 2.6 builds with OpenSSL 3: PEM, key type "DH" (not "DHX"), parameters.
  DecoderCtxPtr dctx(OSSL_DECODER_CTX_new_for_pkey(
      &raw, "PEM", nullptr, "DH", OSSL_KEYMGMT_SELECT_DOMAIN_PARAMETERS, nullptr, nullptr));
  if (bio && dctx && OSSL_DECODER_CTX_get_num_decoders(dctx.get()) > 0) {
    // The parameters need not be the first PEM block; try each one in turn.
    while (raw == nullptr && BIO_eof(bio.get()) == 0) {
      std::size_t before = BIO_ctrl_pending(bio.get());
      OSSL_DECODER_from_bio(dctx.get(), bio.get());
      if (BIO_ctrl_pending(bio.get()) >= before) break;  // no progress: never loop forever
    }
  }
  PkeyPtr dh(raw);
  ERR_clear_error();
  if (dh) return out;
  auto labels = pem_labels(file.data);
  constexpr std::string_view kGenerate = "generate them with 'openssl dhparam -out FILE 2048'";
  if (has_label(labels, "X9.42 DH PARAMETERS") && !has_label(labels, "DH PARAMETERS")) {
    out.push_back({fmt::format("DH parameter file {} holds X9.42 DH parameters, which haproxy "
                               "does not load",
                               quoted(path)),
                   fmt::format("'openssl dhparam -dsaparam' writes that format; {}", kGenerate)});
  } else if (has_label(labels, "DH PARAMETERS")) {
    out.push_back({fmt::format("the DH parameters in {} cannot be parsed", quoted(path)),
                   std::string(kGenerate)});
  } else {
    out.push_back(describe_nothing_found(path, file.data, "DH parameter file", "DH parameters",
                                         std::string(kGenerate), "dhparam"));
  }
  return out;
}

std::size_t count_bind_certificates(const std::string& path) {
  auto st = stat_path(path);
  if (!st) {
    std::size_t parts = 0;
    for (const char* suffix : kBundleSuffixes)
      if (exists(path + "." + suffix)) ++parts;
    return parts;
  }
  if (!S_ISDIR(st->st_mode)) return 1;
  std::size_t files = 0;
  for_each_directory_certificate(path, nullptr, [&](const std::string&) { ++files; });
  return files;
}

std::size_t count_crt_list_certificates(const std::string& path) {
  static const std::string none;
  CrtListChecker checker(path, none, none);
  checker.count_only();
  checker.run();
  return checker.entries();
}

std::vector<FileProblem> lint_ca_file(const std::string& path) {
  return lint_store_file(path, StoreUse::ca);
}

std::vector<FileProblem> lint_crl_file(const std::string& path) {
  return lint_store_file(path, StoreUse::crl);
}

}  // namespace sluice::compile
