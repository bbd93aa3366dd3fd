// Which files of a `crt DIRECTORY` are certificates, shared by the check (`-c`) and the
// loader so that both take the same files in the same order.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace sluice::tls {

// HAProxy's filter: dot-files and the companion files (*.key, *.ocsp, *.issuer, *.sctl)
// beside a certificate are not certificates themselves.
bool is_companion_file(std::string_view name);

struct DirectoryListing {
  std::vector<std::string> names;  // certificate candidates, alphasort order (as HAProxy)
  int error = 0;                   // errno when the directory could not be listed
};

// The entry names HAProxy would try to load as certificates, not yet stat'ed.
DirectoryListing list_certificate_directory(const std::string& dir);

}  // namespace sluice::tls
