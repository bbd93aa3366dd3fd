// Check-time validation of the TLS files a configuration names (certificates, crt-lists, CA and
// CRL files, DH parameters), rejecting exactly what `haproxy -c` 2.6 rejects.
// Knows nothing of the config AST nor of source locations: callers pass paths already joined with
// crt-base/ca-base and attach file:line:col themselves. Never prints; every finding is returned.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "runtime/config/config.hpp"

namespace sluice::compile {

struct FileProblem {
  std::string message;  // names the offending file
  std::string hint;     // empty when none helps
};

// HAProxy's defaults are assumed throughout: `ssl-load-extra-files all` (PATH.key, PATH.sctl,
// PATH.ocsp, PATH.issuer and PATH.{dsa,ecdsa,rsa} bundles are looked up beside a certificate) and
// no `ssl-load-extra-del-ext`. Expired or not-yet-valid certificates are accepted, as HAProxy does.

// `crt PATH` on a bind: a PEM file (certificate, optional chain, private key, or the key in
// PATH.key), a bundle (PATH.dsa/.ecdsa/.rsa when PATH itself does not exist), or a directory
// whose regular files are each loaded like that (skipping dot-files, *.key, *.ocsp, *.issuer,
// *.sctl). An empty directory is not a problem by itself: see count_bind_certificates.
std::vector<FileProblem> check_bind_certificate(const std::string& path);

// `crt-list FILE`: each line is `CERTPATH [ [ssl options] ] [sni filters...]`; CERTPATH is joined
// with crt_base, and ca-file/ca-verify-file/crl-file options with ca_base (either may be empty).
// Checks the line syntax, the option keywords and values, and every file the list names.
std::vector<FileProblem> check_crt_list(const std::string& path, const std::string& crt_base,
                                        const std::string& ca_base = {});

// The lines of a crt-list as the bind serves them (what check_crt_list accepts; a line it
// rejects is left out here, the check having failed the configuration).
std::vector<config::CertificateEntry> read_crt_list(const std::string& path,
                                                    const std::string& crt_base,
                                                    const std::string& ca_base = {});

// `ca-file` (bind, server or crt-list): "@system-ca", a directory, or a PEM file holding at least
// one certificate or CRL. HAProxy 2.6 loads ca-file and crl-file with the same loader, so a CA file
// holding only CRLs, and a CRL file holding only certificates, are both accepted: lint_* below
// reports those as warnings rather than errors.
std::vector<FileProblem> check_ca_file(const std::string& path);
std::vector<FileProblem> check_crl_file(const std::string& path);

// Server `crt`: client certificate + key, same rules as a bind certificate file, but neither a
// directory nor a bundle.
std::vector<FileProblem> check_client_certificate(const std::string& path);

// Global `ssl-dh-param-file`: a PEM file with PKCS#3 "DH PARAMETERS" (X9.42 ones are refused).
std::vector<FileProblem> check_dh_param_file(const std::string& path);

// How many certificates `crt PATH` / `crt-list PATH` hands to its bind. HAProxy rejects an `ssl`
// bind whose total is zero ("no SSL certificate specified"); that is the only way an empty crt
// directory, or a crt-list with nothing but comments, fails: beside another crt it is accepted.
std::size_t count_bind_certificates(const std::string& path);
std::size_t count_crt_list_certificates(const std::string& path);

// `ciphers`, `ciphersuites` or `curves` (on a bind, a crt-list line or ssl-default-*): the
// value OpenSSL must accept when the context is built. Empty when it does.
std::vector<FileProblem> check_tls_setting(std::string_view name, const std::string& value);

// Accepted by HAProxy but almost certainly a mistake; for warnings, never for rejecting: a CA
// file with no certificate (only CRLs), a CRL file with no CRL, a directory yielding nothing.
std::vector<FileProblem> lint_ca_file(const std::string& path);
std::vector<FileProblem> lint_crl_file(const std::string& path);

}  // namespace sluice::compile
