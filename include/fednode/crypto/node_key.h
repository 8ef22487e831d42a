#pragma once
// A node's identity: an X25519 key pair (libsodium crypto_kx). The public key, written as 43
// characters of unpadded base64url, is what operators put in peers' configs (HOST:PORT=KEY) and
// what the replicated membership carries; the node's Raft id derives from it, so no one can claim
// another's id and an address change keeps the identity. The key file is the owner's alone: a
// file that group or others may read is refused, as ssh refuses one.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "fednode/util/status.h"

namespace fednode::crypto {

struct PublicKey {
  std::array<std::uint8_t, 32> bytes{};
  std::string text() const;  // base64url, no padding
  static std::optional<PublicKey> parse(std::string_view text, std::string* why);
  friend bool operator==(const PublicKey&, const PublicKey&) = default;
};

struct NodeKey {
  PublicKey public_key;
  std::array<std::uint8_t, 32> secret{};
};

// Writes a fresh key pair to `path` (mode 0600; an existing file is never overwritten).
Status generate_key_file(const std::string& path, PublicKey* public_key);
Status load_key_file(const std::string& path, NodeKey* key);

// The Raft id of the node holding this key: the first 8 bytes of SHA-256(key), never 0.
std::uint64_t node_id_of_key(const PublicKey& key);

}  // namespace fednode::crypto
