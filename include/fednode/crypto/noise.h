#pragma once
// Noise_IK_25519_ChaChaPoly_BLAKE2b, as the Noise Protocol Framework (revision 34) specifies it:
// X25519, ChaCha20-Poly1305 (IETF, nonce = 4 zero bytes | 64-bit little-endian counter), BLAKE2b
// with HASHLEN 64, HKDF over HMAC-BLAKE2b. The primitives are libsodium's; this file is the
// framework's state machines (CipherState, SymmetricState, HandshakeState for the IK pattern)
// and is checked against the published cacophony test vectors (tests/crypto/noise_vectors_test).
//   <- s
//   ...
//   -> e, es, s, ss
//   <- e, ee, se
// Pure: no sockets, clocks or threads.
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "fednode/crypto/node_key.h"
#include "fednode/util/status.h"

namespace fednode::crypto {

inline constexpr char kNoiseProtocolName[] = "Noise_IK_25519_ChaChaPoly_BLAKE2b";
inline constexpr std::size_t kNoiseHashBytes = 64;
inline constexpr std::size_t kNoiseTagBytes = 16;

// A CipherState: a key and the 64-bit counter that is its nonce.
class NoiseCipher {
 public:
  NoiseCipher() = default;
  explicit NoiseCipher(const std::array<std::uint8_t, 32>& key) : key_(key), has_key_(true) {}
  ~NoiseCipher();
  NoiseCipher(const NoiseCipher&) = default;
  NoiseCipher& operator=(const NoiseCipher&) = default;
  bool has_key() const { return has_key_; }
  // Without a key these pass the plaintext through, as the framework says. Encrypting under a
  // key whose 2^64-1 nonces are spent throws; decrypting fails.
  std::string encrypt_with_ad(std::string_view ad, std::string_view plaintext);
  // Fails (and keeps the counter) on any change to the ciphertext or the associated data.
  bool decrypt_with_ad(std::string_view ad, std::string_view ciphertext, std::string* plaintext);

 private:
  std::array<std::uint8_t, 32> key_{};
  bool has_key_ = false;
  std::uint64_t n_ = 0;
};

// The IK handshake for one side. The ephemeral key is drawn fresh unless one is given (only the
// test vectors give one).
class NoiseHandshake {
 public:
  static NoiseHandshake initiator(const NodeKey& self, const PublicKey& responder, std::string_view prologue,
                                  const std::optional<NodeKey>& ephemeral = std::nullopt);
  static NoiseHandshake responder(const NodeKey& self, std::string_view prologue,
                                  const std::optional<NodeKey>& ephemeral = std::nullopt);
  NoiseHandshake(NoiseHandshake&&) noexcept;
  NoiseHandshake& operator=(NoiseHandshake&&) noexcept;
  ~NoiseHandshake();

  // The next message of the pattern, carrying `payload`; fails out of turn or on a degenerate
  // Diffie-Hellman result.
  Status write_message(std::string_view payload, std::string* message);
  // Fails on a message of the wrong size, out of turn, or one that does not authenticate.
  Status read_message(std::string_view message, std::string* payload);

  bool finished() const;
  // After the last message (throws before): the initiator's (send, receive) are the framework's
  // (c1, c2), the responder's (c2, c1).
  void split(NoiseCipher* send, NoiseCipher* receive) const;
  // The responder learns it from the first message (authenticated once read_message succeeded);
  // the initiator knew it.
  const PublicKey& remote_static() const;
  std::array<std::uint8_t, kNoiseHashBytes> handshake_hash() const;

 private:
  struct State;
  explicit NoiseHandshake(std::unique_ptr<State> s);
  std::unique_ptr<State> s_;
};

}  // namespace fednode::crypto
