#include "runtime/tls/certificate_files.hpp"

#include <dirent.h>

#include <cerrno>
#include <cstdlib>

namespace sluice::tls {

bool is_companion_file(std::string_view name) {
  const std::size_t dot = name.rfind('.');
  if (dot == std::string_view::npos) return false;
  const std::string_view extension = name.substr(dot);
  return name.front() == '.' || extension == ".issuer" || extension == ".ocsp" ||
         extension == ".sctl" || extension == ".key";
}

DirectoryListing list_certificate_directory(const std::string& dir) {
  DirectoryListing r;
  dirent** list = nullptr;
  const int n = ::scandir(dir.c_str(), &list, nullptr, alphasort);
  if (n < 0) {
    r.error = errno;
    return r;
  }
  for (int i = 0; i < n; ++i) {
    if (!is_companion_file(list[i]->d_name)) r.names.emplace_back(list[i]->d_name);
    std::free(list[i]);
  }
  std::free(list);
  return r;
}

}  // namespace sluice::tls
