#include "sha256.h"

#include <openssl/evp.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <vector>

#include "check.h"

namespace rootopt::audit {

std::string sha256_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  ROOTOPT_CHECK(in, "cannot open ", path, " to hash it");
  const std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(),
                                                                    &EVP_MD_CTX_free);
  ROOTOPT_CHECK(ctx && EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) == 1,
                "cannot start SHA-256 (OpenSSL)");
  std::vector<char> buffer(1 << 16);
  while (in.read(buffer.data(), std::streamsize(buffer.size())) || in.gcount() > 0) {
    ROOTOPT_CHECK(EVP_DigestUpdate(ctx.get(), buffer.data(), size_t(in.gcount())) == 1,
                  "SHA-256 update failed for ", path);
    if (in.eof()) break;
  }
  ROOTOPT_CHECK(!in.bad(), "read error while hashing ", path);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  ROOTOPT_CHECK(EVP_DigestFinal_ex(ctx.get(), digest, &length) == 1, "SHA-256 failed for ", path);
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) {
    char byte[3];
    std::snprintf(byte, sizeof byte, "%02x", digest[i]);
    hex += byte;
  }
  return hex;
}

}  // namespace rootopt::audit
