// Private to the three files implementing tls_files.hpp: tls_files.cpp (certificate files, bind
// and server crt), tls_crt_list.cpp (crt-lists) and tls_stores.cpp (CA, CRL and DH files).
// Holds what they share: OpenSSL ownership, file reading, PEM diagnosis, directory listing, and
// the two checks a crt-list borrows (a line names certificate files, and CA/CRL files).
#pragma once

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/compile/tls_files.hpp"

namespace sluice::compile::tls_detail {

// ---- OpenSSL ownership (tls_files.cpp) ----------------------------------------------------------

template <auto Free>
struct OpensslFree {
  template <typename T>
  void operator()(T* p) const noexcept {
    Free(p);
  }
};

using BioPtr = std::unique_ptr<BIO, OpensslFree<BIO_free>>;
using X509Ptr = std::unique_ptr<X509, OpensslFree<X509_free>>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, OpensslFree<EVP_PKEY_free>>;

// Failures leave entries in OpenSSL's thread-local error queue; a stale entry would be misread by
// the next check (HAProxy's chain test reads the queue), so each public call starts and ends clean.
struct ErrorQueueScope {
  ErrorQueueScope() { ERR_clear_error(); }
  ~ErrorQueueScope() { ERR_clear_error(); }
  ErrorQueueScope(const ErrorQueueScope&) = delete;
  ErrorQueueScope& operator=(const ErrorQueueScope&) = delete;
};

// The reason of the earliest queued OpenSSL failure, consuming the queue.
std::string openssl_reason();

// A memory BIO over `data`, which must outlive it.
BioPtr memory_bio(const std::string& data);

// ---- files (tls_files.cpp) ----------------------------------------------------------------------

std::string quoted(std::string_view path);
std::string error_text(int err);

struct FileRead {
  std::string data;
  int error = 0;  // errno when the file could not be read
};

// Reads at most `limit` bytes, as HAProxy reads .sctl and .ocsp files into one buffer.
FileRead read_file(const std::string& path, std::size_t limit = SIZE_MAX);

// nullopt leaves errno set by stat().
std::optional<struct stat> stat_path(const std::string& path);
bool exists(const std::string& path);

// tune.bufsize (16384 unless tuned): HAProxy reads .sctl and .ocsp files into, and lowercases SNI
// filters in, buffers of this size.
inline constexpr std::size_t kTuneBufsize = 16384;

struct DirEntries {
  std::vector<std::string> names;  // alphabetical, like scandir(..., alphasort)
  int error = 0;
};

DirEntries list_directory(const std::string& dir);
std::string join_path(const std::string& dir, const std::string& name);

// ---- describing PEM content (tls_files.cpp) -----------------------------------------------------

// Labels of the PEM blocks in `text` ("CERTIFICATE", "PRIVATE KEY", ...), in order.
std::vector<std::string> pem_labels(std::string_view text);
bool has_label(const std::vector<std::string>& labels, std::string_view wanted);

// Explains why `data`, read from `path`, yielded nothing of `wanted` (e.g. "certificate").
// `kind` names the file's role in the message ("certificate file", "CA file", ...); `der_tool`
// is the openssl subcommand that converts such content from DER ("x509", "crl", ...).
FileProblem describe_nothing_found(const std::string& path, std::string_view data,
                                   std::string_view kind, std::string_view wanted, std::string hint,
                                   std::string_view der_tool = "x509");

// ---- checks one file kind borrows from another --------------------------------------------------

enum class CertUse { bind, server };

// A bind crt PATH that does not exist is loaded as the bundle PATH.dsa, PATH.ecdsa, PATH.rsa.
inline constexpr const char* kBundleSuffixes[] = {"dsa", "ecdsa", "rsa"};

// A missing bind certificate PATH may be a bundle: HAProxy then loads PATH.dsa, PATH.ecdsa
// and PATH.rsa. Checks those that exist; false when there is none.
bool check_certificate_bundle(const std::string& path, std::vector<FileProblem>& out);

// One certificate file and the extra files beside it (tls_files.cpp); stops at the first problem.
void check_certificate_file(const std::string& path, CertUse use, std::vector<FileProblem>& out);

enum class StoreUse { ca, crl };

// A ca-file or crl-file: "@system-ca", a directory, or a PEM file (tls_stores.cpp).
std::vector<FileProblem> check_store_file(const std::string& path, StoreUse use);

}  // namespace sluice::compile::tls_detail
