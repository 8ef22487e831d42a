// Blob ids: SHA-256 in hex, computed by OpenSSL and checked against the standard's vectors and
// an independent implementation (libsodium's) at every length around the block boundaries.
#include <gtest/gtest.h>
#include <sodium.h>

#include <string>

#include "fednode/util/blob_id.h"

namespace fednode {
namespace {

std::string sodium_sha256_hex(const std::string& bytes) {
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
  char hex[2 * crypto_hash_sha256_BYTES + 1];
  sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
  return hex;
}

TEST(BlobId, Sha256GivesTheStandardVectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(sha256_hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(BlobId, Sha256AgreesWithLibsodiumAtEveryLengthAndOnAModel) {
  ASSERT_GE(sodium_init(), 0);
  std::string bytes;
  std::uint32_t x = 12345;
  for (int i = 0; i < 300; ++i) {
    ASSERT_EQ(sha256_hex(bytes), sodium_sha256_hex(bytes)) << "length " << bytes.size();
    x = x * 1664525u + 1013904223u;
    bytes.push_back(static_cast<char>(x >> 24));
  }
  while (bytes.size() < 250000) {
    x = x * 1664525u + 1013904223u;
    bytes.push_back(static_cast<char>(x >> 24));
  }
  EXPECT_EQ(sha256_hex(bytes), sodium_sha256_hex(bytes));
  EXPECT_TRUE(valid_blob_id(sha256_hex(bytes)));
}

}  // namespace
}  // namespace fednode
