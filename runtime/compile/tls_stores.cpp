// CA and CRL files (HAProxy 2.6's ssl_store_load_locations_file) and DH parameter files
// (ssl_sock_load_dh_params_from_file), checked as `haproxy -c` checks them, plus the lint_*
// warnings for what it accepts but cannot use. Part of tls_files.hpp; see tls_files.cpp.
#include "runtime/compile/tls_files.hpp"
#include "runtime/compile/tls_pem.hpp"

#include <openssl/bio.h>
#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

namespace sluice::compile::tls_detail {

namespace {

void free_info_stack(STACK_OF(X509_INFO) * s) {
  sk_X509_INFO_pop_free(s, X509_INFO_free);
}

using InfoStackPtr = std::unique_ptr<STACK_OF(X509_INFO), OpensslFree<free_info_stack>>;

// ---- CA and CRL files (ssl_store_load_locations_file) -------------------------------------------

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

}  // namespace

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

}  // namespace sluice::compile::tls_detail

namespace sluice::compile {

using namespace tls_detail;

namespace {

using DecoderCtxPtr = std::unique_ptr<OSSL_DECODER_CTX, OpensslFree<OSSL_DECODER_CTX_free>>;

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

}  // namespace

// ---- public interface ---------------------------------------------------------------------------

std::vector<FileProblem> check_ca_file(const std::string& path) {
  return check_store_file(path, StoreUse::ca);
}

std::vector<FileProblem> check_crl_file(const std::string& path) {
  return check_store_file(path, StoreUse::crl);
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

std::vector<FileProblem> lint_ca_file(const std::string& path) {
  return lint_store_file(path, StoreUse::ca);
}

std::vector<FileProblem> lint_crl_file(const std::string& path) {
  return lint_store_file(path, StoreUse::crl);
}

}  // namespace sluice::compile
