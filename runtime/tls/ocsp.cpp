#include "runtime/tls/ocsp.hpp"

#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>

#include "runtime/tls/context_setup.hpp"

namespace sluice::tls {

namespace {

// HAProxy's OCSP_MAX_RESPONSE_TIME_SKEW: clocks a few minutes apart still agree.
constexpr long kClockSkewSeconds = 300;

template <auto Free>
struct Freer {
  template <class T>
  void operator()(T* p) const {
    Free(p);
  }
};

std::vector<unsigned char> read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The certificate's issuer: in its chain, else in `certificate_path`.issuer.
X509* find_issuer(SSL_CTX* ctx, X509* certificate, const std::string& certificate_path,
                  std::unique_ptr<X509, Freer<X509_free>>& owned) {
  STACK_OF(X509)* chain = nullptr;
  SSL_CTX_get0_chain_certs(ctx, &chain);
  for (int i = 0; chain && i < sk_X509_num(chain); ++i)
    if (X509_check_issued(sk_X509_value(chain, i), certificate) == X509_V_OK)
      return sk_X509_value(chain, i);
  const std::string issuer_path = certificate_path + ".issuer";
  if (!is_regular_file(issuer_path)) return nullptr;
  std::unique_ptr<BIO, Freer<BIO_free>> bio(BIO_new_file(issuer_path.c_str(), "r"));
  owned.reset(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  ERR_clear_error();
  return owned && X509_check_issued(owned.get(), certificate) == X509_V_OK ? owned.get() : nullptr;
}

int on_status_request(SSL* ssl, void* arg) {
  const auto& response = *static_cast<const std::vector<unsigned char>*>(arg);
  // OpenSSL frees what it is given: a copy per handshake that asks.
  auto* copy = static_cast<unsigned char*>(OPENSSL_malloc(response.size()));
  if (copy == nullptr) return SSL_TLSEXT_ERR_NOACK;
  std::memcpy(copy, response.data(), response.size());
  SSL_set_tlsext_status_ocsp_resp(ssl, copy, static_cast<long>(response.size()));
  return SSL_TLSEXT_ERR_OK;
}

}  // namespace

std::vector<unsigned char> load_ocsp_response(SSL_CTX* ctx, const std::string& certificate_path,
                                              std::string& warning) {
  const std::string path = certificate_path + ".ocsp";
  std::vector<unsigned char> der = read_all(path);
  auto refuse = [&](const std::string& why) {
    warning = "OCSP response '" + path + "' is not stapled: " + why;
    ERR_clear_error();
    return std::vector<unsigned char>();
  };
  const unsigned char* p = der.data();
  std::unique_ptr<OCSP_RESPONSE, Freer<OCSP_RESPONSE_free>> response(
      d2i_OCSP_RESPONSE(nullptr, &p, static_cast<long>(der.size())));
  if (!response) return refuse("it is not a DER-encoded OCSP response");
  const int status = OCSP_response_status(response.get());
  if (status != OCSP_RESPONSE_STATUS_SUCCESSFUL)
    return refuse(std::string("its status is ") + OCSP_response_status_str(status));
  std::unique_ptr<OCSP_BASICRESP, Freer<OCSP_BASICRESP_free>> basic(
      OCSP_response_get1_basic(response.get()));
  if (!basic) return refuse("it holds no basic response");
  X509* certificate = SSL_CTX_get0_certificate(ctx);
  std::unique_ptr<X509, Freer<X509_free>> owned_issuer;
  X509* issuer = find_issuer(ctx, certificate, certificate_path, owned_issuer);
  if (issuer == nullptr)
    return refuse("the certificate's issuer is neither in its chain nor in '" + certificate_path +
                  ".issuer'");
  std::unique_ptr<OCSP_CERTID, Freer<OCSP_CERTID_free>> id(
      OCSP_cert_to_id(nullptr, certificate, issuer));
  int cert_status = 0, reason = 0;
  ASN1_GENERALIZEDTIME *revoked = nullptr, *this_update = nullptr, *next_update = nullptr;
  if (!id || OCSP_resp_find_status(basic.get(), id.get(), &cert_status, &reason, &revoked,
                                   &this_update, &next_update) != 1)
    return refuse("it does not answer for the certificate in '" + certificate_path + "'");
  if (OCSP_check_validity(this_update, next_update, kClockSkewSeconds, -1) != 1)
    return refuse("it is outside its validity period (expired or not yet valid)");
  ERR_clear_error();
  return der;
}

void staple_ocsp_response(SSL_CTX* ctx, const std::vector<unsigned char>& response) {
  SSL_CTX_set_tlsext_status_cb(ctx, on_status_request);
  SSL_CTX_set_tlsext_status_arg(ctx, const_cast<std::vector<unsigned char>*>(&response));
}

}  // namespace sluice::tls
