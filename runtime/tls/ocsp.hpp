// OCSP stapling as HAProxy does it: a DER response in `CERT.ocsp` beside a certificate is
// sent to the clients that ask (status_request). A response that does not answer for this
// certificate, is not "successful", or is out of its validity window is not stapled, and
// the caller warns about it: a stale staple makes strict clients refuse the site.
#pragma once

#include <openssl/ssl.h>

#include <string>
#include <vector>

namespace sluice::tls {

// The response in `certificate_path`.ocsp for the certificate `ctx` holds, checked; empty
// with `warning` set when it is not to be stapled.
std::vector<unsigned char> load_ocsp_response(SSL_CTX* ctx, const std::string& certificate_path,
                                              std::string& warning);

// Staples `response` (which must outlive `ctx`) to the handshakes of `ctx` that ask.
void staple_ocsp_response(SSL_CTX* ctx, const std::vector<unsigned char>& response);

}  // namespace sluice::tls
