#include "runtime/tls/context_setup.hpp"

#include <openssl/err.h>
#include <sys/stat.h>

namespace sluice::tls {

bool is_regular_file(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

bool is_directory(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::string openssl_reason() {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  const char* reason = e ? ERR_reason_error_string(e) : nullptr;
  return reason ? reason : "unknown OpenSSL error";
}

std::string alpn_wire(const std::vector<std::string>& protocols) {
  std::string wire;
  for (const auto& p : protocols) {
    if (p.empty() || p.size() > 255) continue;
    wire += static_cast<char>(p.size());
    wire += p;
  }
  return wire;
}

void apply_versions(SSL_CTX* ctx, const VersionRange& v) {
  SSL_CTX_set_min_proto_version(ctx, v.min ? v.min : TLS1_2_VERSION);
  SSL_CTX_set_max_proto_version(ctx, v.max);
  SSL_CTX_set_options(ctx, v.disabled_options);
}

bool use_certificate_file(SSL_CTX* ctx, const std::string& path, std::string& error) {
  auto fail = [&](const char* what) {
    error = std::string(what) + " '" + path + "': " + openssl_reason();
    return false;
  };
  ERR_clear_error();
  if (SSL_CTX_use_certificate_chain_file(ctx, path.c_str()) != 1)
    return fail("unable to load the certificate chain in");
  ERR_clear_error();
  if (SSL_CTX_use_PrivateKey_file(ctx, path.c_str(), SSL_FILETYPE_PEM) != 1) {
    ERR_clear_error();
    const std::string key = path + ".key";
    if (!is_regular_file(key) ||
        SSL_CTX_use_PrivateKey_file(ctx, key.c_str(), SSL_FILETYPE_PEM) != 1)
      return fail("unable to load the private key of");
  }
  if (SSL_CTX_check_private_key(ctx) != 1)
    return fail("the private key does not match the certificate in");
  return true;
}

bool load_trust(SSL_CTX* ctx, const std::string& ca, std::string& error) {
  bool loaded = false;
  if (ca == "@system-ca")
    loaded = SSL_CTX_set_default_verify_paths(ctx) == 1;
  else if (is_directory(ca))
    loaded = SSL_CTX_load_verify_locations(ctx, nullptr, ca.c_str()) == 1;
  else
    loaded = SSL_CTX_load_verify_locations(ctx, ca.c_str(), nullptr) == 1;
  if (!loaded) {
    error = "unable to load the CA file '" + ca + "': " + openssl_reason();
    return false;
  }
  ERR_clear_error();
  return true;
}

bool load_crl(SSL_CTX* ctx, const std::string& crl_file, std::string& error) {
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  if (X509_STORE_load_file(store, crl_file.c_str()) != 1) {
    error = "unable to load the CRL file '" + crl_file + "': " + openssl_reason();
    return false;
  }
  X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
  ERR_clear_error();
  return true;
}

}  // namespace sluice::tls
