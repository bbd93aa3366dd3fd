// Mirrors HAProxy 2.6's loaders (ssl_ckch.c, ssl_crtlist.c, ssl_sock.c) closely enough that each
// verdict matches `haproxy -c`; the wording is ours. Where HAProxy hangs (a directory given as a
// crt-list entry or as ssl-dh-param-file) there is no verdict to match and we reject.
//
// This file: the helpers tls_pem.hpp declares, certificate files (PEM/key loading, .key, .sctl,
// .ocsp, .issuer), and the bind and server `crt` checks. crt-lists live in tls_crt_list.cpp, CA,
// CRL and DH parameter files in tls_stores.cpp.
#include "runtime/compile/tls_files.hpp"
#include "runtime/compile/tls_pem.hpp"
#include "runtime/tls/certificate_files.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string_view>
#include <utility>

#include <fmt/format.h>

namespace sluice::compile::tls_detail {

// ---- OpenSSL errors -----------------------------------------------------------------------------

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

// ---- files --------------------------------------------------------------------------------------

std::string quoted(std::string_view path) {
  return fmt::format("'{}'", path);
}

std::string error_text(int err) {
  return std::strerror(err);
}

// Reads at most `limit` bytes, as HAProxy reads .sctl and .ocsp files into one buffer.
FileRead read_file(const std::string& path, std::size_t limit) {
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

bool has_label(const std::vector<std::string>& labels, std::string_view wanted) {
  for (const auto& l : labels)
    if (l == wanted) return true;
  return false;
}

namespace {

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

// DER starts with an ASN.1 SEQUENCE tag; a PEM file never does.
bool looks_like_der(std::string_view data) {
  return data.size() > 2 && static_cast<unsigned char>(data[0]) == 0x30;
}

}  // namespace

// Explains why `data`, read from `path`, yielded nothing of `wanted` (e.g. "certificate").
// `kind` names the file's role in the message ("certificate file", "CA file", ...); `der_tool`
// is the openssl subcommand that converts such content from DER ("x509", "crl", ...).
FileProblem describe_nothing_found(const std::string& path, std::string_view data,
                                   std::string_view kind, std::string_view wanted, std::string hint,
                                   std::string_view der_tool) {
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

namespace {

constexpr std::string_view kCertLayoutHint =
    "a crt file holds the certificate first, then its chain and private key, e.g. "
    "'cat cert.pem chain.pem key.pem > combined.pem'";

// Passing no callback would make OpenSSL prompt on the terminal, as `haproxy -c` does; a check
// must never block, and HAProxy gets no passphrase at startup either, so refuse and remember.
int refuse_passphrase(char* /*buf*/, int /*size*/, int /*rwflag*/, void* asked) {
  *static_cast<bool*>(asked) = true;
  return -1;
}

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

}  // namespace

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

}  // namespace sluice::compile::tls_detail

namespace sluice::compile {

using namespace tls_detail;

namespace {

// ---- bind crt: file, bundle or directory --------------------------------------------------------

// Calls `each(full_path)` for every file HAProxy would load from a crt directory; stat failures
// (dangling links) are problems, as they are for HAProxy.
template <typename Each>
void for_each_directory_certificate(const std::string& dir, std::vector<FileProblem>* out,
                                    Each each) {
  const tls::DirectoryListing entries = tls::list_certificate_directory(dir);
  if (entries.error != 0) {
    if (out)
      out->push_back({fmt::format("cannot list certificate directory {}: {}", quoted(dir),
                                  error_text(entries.error)),
                      {}});
    return;
  }
  for (const auto& name : entries.names) {
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

}  // namespace

bool tls_detail::check_certificate_bundle(const std::string& path, std::vector<FileProblem>& out) {
  bool bundle = false;
  for (const char* suffix : kBundleSuffixes) {
    std::string part = path + "." + suffix;
    if (!exists(part)) continue;
    bundle = true;
    check_certificate_file(part, CertUse::bind, out);
  }
  return bundle;
}

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
  const int err = errno;
  if (!check_certificate_bundle(path, out))
    out.push_back(
        {fmt::format("cannot find certificate {}: {}", quoted(path), error_text(err)), {}});
  return out;
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

}  // namespace sluice::compile
