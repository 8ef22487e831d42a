#include "fednode/util/blob_id.h"

#include <openssl/evp.h>

#include <cstdlib>

#include <spdlog/spdlog.h>

namespace fednode {

// OpenSSL's SHA-256 uses the CPU's SHA extensions where it has them: 0.17 ms for a 250 KB model
// against libsodium's 1.6 ms (portable C), and a round hashes each model and update several times.
std::string sha256_hex(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(), nullptr) != 1 || length != 32) {
    spdlog::critical("OpenSSL's SHA-256 failed on {} bytes", bytes.size());
    std::abort();  // without hashing no blob can be checked: nothing safe to go on with
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < length; ++i) {
    unsigned char c = digest[i];
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

bool valid_blob_id(std::string_view id) {
  if (id.size() != 64) return false;
  for (char c : id) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace fednode
