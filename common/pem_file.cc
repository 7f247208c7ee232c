#include "common/pem_file.h"

#include <openssl/crypto.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace herald {

absl::StatusOr<std::string> ReadPemFile(const std::string& path) {
  constexpr size_t kMaxSize = 1 << 20;  // Key files are a few KiB.
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read ", path, ": ", std::strerror(errno)));
  }
  std::string pem;
  char chunk[4096];
  size_t n = 0;
  bool too_large = false;
  while ((n = std::fread(chunk, 1, sizeof(chunk), f)) > 0) {
    pem.append(chunk, n);
    if (pem.size() > kMaxSize) {
      too_large = true;
      break;
    }
  }
  const int read_errno = std::ferror(f) ? errno : 0;
  std::fclose(f);
  OPENSSL_cleanse(chunk, sizeof(chunk));
  if (read_errno != 0 || too_large) {
    OPENSSL_cleanse(pem.data(), pem.size());
    return absl::InvalidArgumentError(absl::StrCat(
        "cannot read ", path, ": ", too_large ? "file too large" : std::strerror(read_errno)));
  }
  return pem;
}

}  // namespace herald
