// What the server-side (bind) and client-side (server line) TLS contexts set up alike:
// protocol bounds, a certificate with its key, the CAs and CRLs that verify the peer, and
// OpenSSL's reason for a failure in words an operator can act on.
#pragma once

#include <openssl/ssl.h>

#include <string>
#include <vector>

namespace sluice::tls {

// OpenSSL's protocol numbers (TLS1_2_VERSION, …); 0: OpenSSL's bound.
struct VersionRange {
  int min = 0;
  int max = 0;
  long disabled_options = 0;  // SSL_OP_NO_TLSv1_x from `no-tlsv1x`
};

bool is_regular_file(const std::string& path);
bool is_directory(const std::string& path);

// The reason of OpenSSL's oldest queued error (the queue is then emptied).
std::string openssl_reason();

// ALPN protocol names as TLS writes them (each length-prefixed); empty or over-long names
// are left out.
std::string alpn_wire(const std::vector<std::string>& protocols);

// TLS 1.2 at least unless the range says lower; at most what it says.
void apply_versions(SSL_CTX* ctx, const VersionRange& versions);

// The certificate chain in `path` and its key (in the same file or in `path`.key), checked
// to match. False with `error` naming the file.
bool use_certificate_file(SSL_CTX* ctx, const std::string& path, std::string& error);

// Trust anchors for verifying the peer: a PEM file, a hashed directory or "@system-ca".
bool load_trust(SSL_CTX* ctx, const std::string& ca_file, std::string& error);

// Every CRL of `crl_file`, checked for each certificate of the chain (HAProxy's
// CRL_CHECK_ALL).
bool load_crl(SSL_CTX* ctx, const std::string& crl_file, std::string& error);

}  // namespace sluice::tls
