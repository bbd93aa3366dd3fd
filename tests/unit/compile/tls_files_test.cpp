#include "runtime/compile/tls_files.hpp"

#include <openssl/err.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <doctest/doctest.h>

using namespace sluice::compile;

namespace {

namespace fs = std::filesystem;

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void write(const std::string& path, std::string_view content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
}

// Owns a mkdtemp directory; a member of Material so it is removed even when generation fails
// half-way (a throwing constructor still destroys the members it finished building).
struct TempDir {
  TempDir() {
    char templ[] = "/tmp/sluice-tls-files-XXXXXX";
    REQUIRE(::mkdtemp(templ) != nullptr);
    path = templ;
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string path;
};

// Certificates, keys, a CA with a CRL and DH parameters, made once per run with the openssl CLI
// in a private temporary directory that is removed at exit.
class Material {
 public:
  static const Material& get() {
    static Material material;
    return material;
  }
  Material(const Material&) = delete;
  Material& operator=(const Material&) = delete;

  std::string operator()(std::string_view name) const { return dir_ + "/" + std::string(name); }
  const std::string& dir() const { return dir_; }

  // Writes `name` as the concatenation of other material files.
  std::string concat(std::string_view name, std::initializer_list<std::string_view> parts) const {
    std::string text;
    for (auto part : parts)
      text += slurp((*this)(part));
    write((*this)(name), text);
    return (*this)(name);
  }

 private:
  Material() {
    write((*this)("ca.cnf"),
          "[ca]\ndefault_ca = d\n[d]\ndir = .\ndatabase = index.txt\nserial = serial\n"
          "new_certs_dir = .\ncertificate = ca.crt\nprivate_key = ca.key\ndefault_md = sha256\n"
          "policy = p\ndefault_crl_days = 30\n[p]\ncommonName = supplied\n");
    write((*this)("index.txt"), "");
    write((*this)("serial"), "01\n");
    const char* ec = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";
    run(std::string("openssl req -x509 ") + ec +
        " -keyout ec.key -out ec.crt -days 30 -subj /CN=ec.test");
    run("openssl req -x509 -newkey rsa:2048 -nodes -keyout rsa.key -out rsa.crt -days 30 "
        "-subj /CN=rsa.test");
    run("openssl pkey -in ec.key -aes256 -passout pass:secret -out ec.enc.key");
    run(std::string("openssl req -x509 ") + ec +
        " -keyout ca.key -out ca.crt -days 30 -subj /CN=test-ca");
    run(std::string("openssl req -new ") + ec + " -keyout leaf.key -out leaf.csr -subj /CN=leaf");
    run("openssl ca -batch -config ca.cnf -in leaf.csr -out leaf.crt -days 30 -notext");
    run(std::string("openssl req -new ") + ec + " -keyout old.key -out old.csr -subj /CN=old");
    run("openssl ca -batch -config ca.cnf -in old.csr -out old.crt -notext "
        "-startdate 20200101000000Z -enddate 20200102000000Z");
    run("openssl ca -batch -config ca.cnf -gencrl -out ca.crl");
    run("openssl genpkey -genparam -algorithm DH -pkeyopt group:ffdhe2048 -out dh.pem");
    run("openssl genpkey -genparam -algorithm DHX -pkeyopt dh_rfc5114:2 -out dhx.pem");
    concat("ec.pem", {"ec.crt", "ec.key"});
    concat("rsa.pem", {"rsa.crt", "rsa.key"});
  }

  void run(const std::string& command) const {
    std::string line = "cd '" + dir_ + "' && " + command + " >/dev/null 2>&1";
    INFO(command);
    REQUIRE(std::system(line.c_str()) == 0);
  }

  TempDir temp_;
  const std::string& dir_ = temp_.path;
};

// A fresh directory inside the material directory, for directory-shaped inputs.
std::string make_dir(std::string_view name) {
  std::string path = Material::get()(name);
  fs::create_directories(path);
  return path;
}

std::string render(const std::vector<FileProblem>& problems) {
  std::string out;
  for (const auto& p : problems)
    out += p.message + " [hint: " + p.hint + "]\n";
  return out;
}

bool contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

// Exactly one problem, whose message names `file` and says `reason`.
void expect_one(const std::vector<FileProblem>& problems, const std::string& file,
                std::string_view reason) {
  INFO(render(problems));
  REQUIRE(problems.size() == 1);
  CHECK(contains(problems[0].message, "'" + file + "'"));
  CHECK(contains(problems[0].message, reason));
  // Every failure path must leave OpenSSL's error queue empty for whoever runs next.
  CHECK(ERR_peek_error() == 0);
}

void expect_none(const std::vector<FileProblem>& problems) {
  INFO(render(problems));
  CHECK(problems.empty());
}

}  // namespace

TEST_CASE("bind crt: good PEM files are accepted, expired ones included") {
  const auto& m = Material::get();
  expect_none(check_bind_certificate(m("ec.pem")));
  expect_none(check_bind_certificate(m("rsa.pem")));
  expect_none(check_bind_certificate(m.concat("keyfirst.pem", {"ec.key", "ec.crt"})));
  expect_none(check_bind_certificate(m.concat("chain.pem", {"leaf.crt", "ca.crt", "leaf.key"})));
  // HAProxy loads expired certificates (and so serves them); it is not a check-time error.
  expect_none(check_bind_certificate(m.concat("expired.pem", {"old.crt", "old.key"})));
  CHECK(count_bind_certificates(m("ec.pem")) == 1);
}

TEST_CASE("bind crt: missing, empty and non-PEM files") {
  const auto& m = Material::get();
  expect_one(check_bind_certificate(m("nope.pem")), m("nope.pem"), "No such file or directory");
  CHECK(count_bind_certificates(m("nope.pem")) == 0);

  write(m("empty.pem"), "");
  expect_one(check_bind_certificate(m("empty.pem")), m("empty.pem"), "is empty");

  write(m("text.pem"), "hello\n");
  expect_one(check_bind_certificate(m("text.pem")), m("text.pem"), "not PEM");

  write(m("der.pem"), std::string("\x30\x82\x01\x0a", 4) + "binary");
  auto der = check_bind_certificate(m("der.pem"));
  expect_one(der, m("der.pem"), "DER");
  CHECK(contains(der[0].hint, "-inform der"));

  expect_one(check_bind_certificate(m("ca.crl")), m("ca.crl"), "no certificate");
  expect_one(check_bind_certificate(m("ec.key")), m("ec.key"), "no certificate");
}

TEST_CASE("bind crt: a file whose path is not a directory reports errno") {
  const auto& m = Material::get();
  std::string below_file = m("ec.pem") + "/inside.pem";
  expect_one(check_bind_certificate(below_file), below_file, "Not a directory");
  if (::geteuid() != 0) {  // root reads everything
    m.concat("locked.pem", {"ec.crt", "ec.key"});
    ::chmod(m("locked.pem").c_str(), 0);
    expect_one(check_bind_certificate(m("locked.pem")), m("locked.pem"), "Permission denied");
  }
}

TEST_CASE("bind crt: the private key, in the file or in PATH.key") {
  const auto& m = Material::get();
  std::string cert_only = m.concat("certonly.pem", {"ec.crt"});
  auto problems = check_bind_certificate(cert_only);
  expect_one(problems, cert_only, "no private key");
  CHECK(contains(problems[0].message, cert_only + ".key"));

  std::string side = m.concat("side.pem", {"ec.crt"});
  m.concat("side.pem.key", {"ec.key"});
  expect_none(check_bind_certificate(side));

  std::string side_wrong = m.concat("sidewrong.pem", {"ec.crt"});
  m.concat("sidewrong.pem.key", {"rsa.key"});
  expect_one(check_bind_certificate(side_wrong), side_wrong + ".key", "does not match");

  std::string side_junk = m.concat("sidejunk.pem", {"ec.crt"});
  write(side_junk + ".key", "junk\n");
  expect_one(check_bind_certificate(side_junk), side_junk + ".key", "not PEM");

  // site.crt + site.key is a classic layout HAProxy does not read: say so.
  std::string site = m.concat("site.crt", {"ec.crt"});
  m.concat("site.key", {"ec.key"});
  auto site_problems = check_bind_certificate(site);
  expect_one(site_problems, site, "no private key");
  CHECK(contains(site_problems[0].hint, m("site.key")));
}

TEST_CASE("bind crt: a key that does not match its certificate") {
  const auto& m = Material::get();
  std::string mixed = m.concat("mixed.pem", {"ec.crt", "rsa.key"});
  auto problems = check_bind_certificate(mixed);
  expect_one(problems, mixed, "does not match");
  CHECK(contains(problems[0].message, "EC"));
  CHECK(contains(problems[0].message, "RSA"));
}

TEST_CASE("bind crt: an encrypted key is refused without prompting") {
  const auto& m = Material::get();
  std::string encrypted = m.concat("encrypted.pem", {"ec.crt", "ec.enc.key"});
  expect_one(check_bind_certificate(encrypted), encrypted, "encrypted");

  std::string side = m.concat("encside.pem", {"ec.crt"});
  m.concat("encside.pem.key", {"ec.enc.key"});
  expect_one(check_bind_certificate(side), side + ".key", "encrypted");

  // HAProxy falls back to PATH.key when the key in the file cannot be used.
  std::string rescued = m.concat("rescued.pem", {"ec.crt", "ec.enc.key"});
  m.concat("rescued.pem.key", {"ec.key"});
  expect_none(check_bind_certificate(rescued));
}

TEST_CASE("bind crt: a damaged chain certificate") {
  const auto& m = Material::get();
  std::string path = m("badchain.pem");
  write(path, slurp(m("ec.pem")) +
                  "-----BEGIN CERTIFICATE-----\n"
                  "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n"
                  "-----END CERTIFICATE-----\n");
  expect_one(check_bind_certificate(path), path, "cannot be parsed");
}

TEST_CASE("bind crt: directories") {
  const auto& m = Material::get();
  // An empty directory is no problem on its own; the bind fails only if it gets no certificate.
  std::string empty = make_dir("emptydir");
  expect_none(check_bind_certificate(empty));
  CHECK(count_bind_certificates(empty) == 0);

  std::string good = make_dir("gooddir");
  fs::copy_file(m("ec.pem"), good + "/a.pem", fs::copy_options::overwrite_existing);
  fs::copy_file(m("ec.crt"), good + "/b.pem", fs::copy_options::overwrite_existing);
  fs::copy_file(m("ec.key"), good + "/b.pem.key", fs::copy_options::overwrite_existing);
  for (const char* skipped : {"/c.key", "/c.ocsp", "/c.issuer", "/c.sctl", "/.hidden"})
    write(good + skipped, "not a certificate\n");
  fs::create_directories(good + "/subdir");
  expect_none(check_bind_certificate(good));
  CHECK(count_bind_certificates(good) == 2);

  std::string bad = make_dir("baddir");
  fs::copy_file(m("ec.pem"), bad + "/a.pem", fs::copy_options::overwrite_existing);
  fs::copy_file(m("ec.crt"), bad + "/b.pem", fs::copy_options::overwrite_existing);
  expect_one(check_bind_certificate(bad), bad + "/b.pem", "no private key");
}

TEST_CASE("bind crt: multi-certificate bundles") {
  const auto& m = Material::get();
  m.concat("bundle.pem.ecdsa", {"ec.pem"});
  m.concat("bundle.pem.rsa", {"rsa.pem"});
  expect_none(check_bind_certificate(m("bundle.pem")));
  CHECK(count_bind_certificates(m("bundle.pem")) == 2);

  m.concat("badbundle.pem.rsa", {"rsa.crt"});
  expect_one(check_bind_certificate(m("badbundle.pem")), m("badbundle.pem.rsa"), "no private key");
}

TEST_CASE("bind crt: files HAProxy picks up beside the certificate") {
  const auto& m = Material::get();
  std::string sctl = m.concat("sctl.pem", {"ec.pem"});
  write(sctl + ".sctl", "junk");
  expect_one(check_bind_certificate(sctl), sctl + ".sctl", "Signed Certificate Timestamp");
  std::string good_sctl = m.concat("goodsctl.pem", {"ec.pem"});
  write(good_sctl + ".sctl", std::string("\0\0", 2));
  expect_none(check_bind_certificate(good_sctl));

  // An .ocsp file needs the issuer, from the chain or from PATH.issuer.
  std::string lonely = m.concat("ocsp.pem", {"leaf.crt", "leaf.key"});
  write(lonely + ".ocsp", "");
  expect_one(check_bind_certificate(lonely), lonely + ".ocsp", "issuer");
  expect_none(check_client_certificate(lonely));  // servers do not staple
  std::string chained = m.concat("ocspchain.pem", {"leaf.crt", "leaf.key", "ca.crt"});
  write(chained + ".ocsp", "");
  expect_none(check_bind_certificate(chained));
  std::string issuer = m.concat("ocspissuer.pem", {"leaf.crt", "leaf.key"});
  write(issuer + ".ocsp", "");
  m.concat("ocspissuer.pem.issuer", {"ca.crt"});
  expect_none(check_bind_certificate(issuer));
  std::string wrong = m.concat("ocspwrong.pem", {"leaf.crt", "leaf.key"});
  write(wrong + ".ocsp", "");
  m.concat("ocspwrong.pem.issuer", {"rsa.crt"});
  expect_one(check_bind_certificate(wrong), wrong + ".issuer", "did not issue");
}

TEST_CASE("crt-list: lines, options, filters and relative paths") {
  const auto& m = Material::get();
  std::string list = m("good.lst");
  write(list,
        "# comment\n"
        "\n" +
            m("ec.pem") + " [alpn h2,http/1.1 verify optional ca-file ca.crt] www.example.com\n" +
            "rsa.pem *.example.org !secret.example.org\r\n");
  expect_none(check_crt_list(list, m.dir(), m.dir()));
  CHECK(count_crt_list_certificates(list) == 2);

  std::string comments = m("comments.lst");
  write(comments, "# nothing here\n\n");
  expect_none(check_crt_list(comments, {}));
  CHECK(count_crt_list_certificates(comments) == 0);
}

TEST_CASE("crt-list: problems name the list, the line and the file") {
  const auto& m = Material::get();
  expect_one(check_crt_list(m("nope.lst"), {}), m("nope.lst"), "No such file or directory");

  std::string cert_only = m.concat("certonly2.pem", {"ec.crt"});
  std::string bad = m("bad.lst");
  write(bad, m("ec.pem") + "\n" + cert_only + "\n");
  auto problems = check_crt_list(bad, {});
  expect_one(problems, bad, "line 2");
  CHECK(contains(problems[0].message, cert_only));
  CHECK(contains(problems[0].message, "no private key"));

  std::string missing = m("missing.lst");
  write(missing, "absent.pem\n");
  auto missing_problems = check_crt_list(missing, m.dir());
  expect_one(missing_problems, missing, m("absent.pem"));
  CHECK(contains(missing_problems[0].hint, "crt-base"));

  std::string no_lf = m("nolf.lst");
  write(no_lf, m("ec.pem"));
  expect_one(check_crt_list(no_lf, {}), no_lf, "newline");

  std::string option = m("option.lst");
  write(option, m("ec.pem") + " [bogus]\n");
  expect_one(check_crt_list(option, {}), option, "unknown option 'bogus'");

  std::string verify = m("verify.lst");
  write(verify, m("ec.pem") + " [verify sometimes]\n");
  expect_one(check_crt_list(verify, {}), verify, "verify");

  std::string bracket = m("bracket.lst");
  write(bracket, "[alpn h2] " + m("ec.pem") + "\n");
  expect_one(check_crt_list(bracket, {}), bracket, "line 1");

  std::string ca = m("ca.lst");
  write(ca, m("ec.pem") + " [ca-file " + m("ec.key") + "]\n");
  expect_one(check_crt_list(ca, {}), ca, m("ec.key"));

  // HAProxy 2.6 spins forever on a directory entry; we refuse it.
  std::string dir = m("dir.lst");
  write(dir, make_dir("listdir") + "\n");
  expect_one(check_crt_list(dir, {}), dir, "is a directory");
}

TEST_CASE("ca-file: certificates or CRLs, as HAProxy 2.6 loads it") {
  const auto& m = Material::get();
  expect_none(check_ca_file(m("ca.crt")));
  expect_none(check_ca_file("@system-ca"));
  expect_none(check_ca_file(make_dir("cadir")));
  expect_one(check_ca_file(m("nope.crt")), m("nope.crt"), "No such file or directory");
  expect_one(check_ca_file(m("ec.key")), m("ec.key"), "no certificate or CRL");
  write(m("empty.crt"), "");
  expect_one(check_ca_file(m("empty.crt")), m("empty.crt"), "empty");

  // HAProxy accepts a ca-file holding only a CRL; that is a warning, not an error.
  expect_none(check_ca_file(m("ca.crl")));
  auto lint = lint_ca_file(m("ca.crl"));
  expect_one(lint, m("ca.crl"), "only CRLs");
  expect_none(lint_ca_file(m("ca.crt")));
}

TEST_CASE("crl-file: CRLs, with the same loader as ca-file") {
  const auto& m = Material::get();
  expect_none(check_crl_file(m("ca.crl")));
  expect_none(lint_crl_file(m("ca.crl")));
  expect_one(check_crl_file(m("nope.crl")), m("nope.crl"), "No such file or directory");
  expect_one(check_crl_file(m("ec.key")), m("ec.key"), "no certificate or CRL");
  write(m("text.crl"), "no pem here\n");
  expect_one(check_crl_file(m("text.crl")), m("text.crl"), "not PEM");

  // A crl-file with certificates but no CRL passes `haproxy -c`; warn instead.
  expect_none(check_crl_file(m("ca.crt")));
  expect_one(lint_crl_file(m("ca.crt")), m("ca.crt"), "no CRL");
}

TEST_CASE("server crt: certificate and key, never a directory or bundle") {
  const auto& m = Material::get();
  expect_none(check_client_certificate(m("ec.pem")));
  expect_one(check_client_certificate(m("nope.pem")), m("nope.pem"), "No such file or directory");
  expect_one(check_client_certificate(make_dir("clientdir")), m("clientdir"), "directory");
  m.concat("srvbundle.pem.rsa", {"rsa.pem"});
  expect_one(check_client_certificate(m("srvbundle.pem")), m("srvbundle.pem"),
             "No such file or directory");
  std::string cert_only = m.concat("client-certonly.pem", {"rsa.crt"});
  expect_one(check_client_certificate(cert_only), cert_only, "no private key");
  std::string mixed = m.concat("client-mixed.pem", {"rsa.crt", "ec.key"});
  expect_one(check_client_certificate(mixed), mixed, "does not match");
  std::string encrypted = m.concat("client-enc.pem", {"ec.crt", "ec.enc.key"});
  expect_one(check_client_certificate(encrypted), encrypted, "encrypted");
}

TEST_CASE("ssl-dh-param-file: PKCS#3 DH parameters only") {
  const auto& m = Material::get();
  expect_none(check_dh_param_file(m("dh.pem")));
  expect_none(check_dh_param_file(m.concat("withdh.pem", {"ec.pem", "dh.pem"})));
  expect_one(check_dh_param_file(m("nope.pem")), m("nope.pem"), "No such file or directory");
  expect_one(check_dh_param_file(m("ec.pem")), m("ec.pem"), "no DH parameters");
  auto x942 = check_dh_param_file(m("dhx.pem"));
  expect_one(x942, m("dhx.pem"), "X9.42");
  CHECK(contains(x942[0].hint, "openssl dhparam"));
  expect_one(check_dh_param_file(make_dir("dhdir")), m("dhdir"), "directory");
}
