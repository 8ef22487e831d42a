#pragma once
// The handshake and frames of a sealed TCP stream (the data plane and client channel, secure
// mode): Noise_IK_25519_ChaChaPoly_BLAKE2b (crypto/noise.h), empty payloads.
//   -> e, es, s, ss     the initiator knows the responder's static key and sends its own, encrypted
//   <- e, ee, se
// Both sides prove their static keys (es/ss, se) and fresh ephemeral keys give forward secrecy;
// the handshake hash binds everything, including a prologue naming the cluster and the channel.
// The responder decides from the initiator's static key whether it may connect (a member, an
// operator). After the two messages each direction has its own Noise CipherState; every frame is
// a 4-byte big-endian length then one Noise transport message (its counter is the nonce), so
// frames cannot be dropped, reordered or replayed unnoticed. Unlike Noise's own framing, a frame
// may exceed 65,535 bytes (models travel in large frames; the cipher allows 2^38 bytes a message).
// Pure: no sockets, clocks or threads.
#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "fednode/crypto/node_key.h"
#include "fednode/crypto/noise.h"
#include "fednode/util/status.h"

namespace fednode::crypto {

inline constexpr std::size_t kHandshakeRequestBytes = 32 + 32 + 16 + 16;  // e, enc(s), enc(payload)
inline constexpr std::size_t kHandshakeResponseBytes = 32 + 16;           // e, enc(payload)
inline constexpr std::size_t kFrameOverhead = 4 + 16;

// One direction's key and frame counter.
class FrameCipher {
 public:
  FrameCipher() = default;
  explicit FrameCipher(NoiseCipher cipher) : cipher_(std::move(cipher)) {}
  // length (u32, big-endian, of what follows) | ciphertext
  std::string seal(std::string_view plaintext);
  // `ciphertext` is what follows the length; fails on any change, or a frame out of order.
  Status open(std::string_view ciphertext, std::string* plaintext);

 private:
  NoiseCipher cipher_;
};

struct SecureSession {
  FrameCipher send, receive;
  PublicKey peer;  // the other side's static key, authenticated
};

class HandshakeInitiator {
 public:
  // `prologue` names the cluster and channel; both sides must use the same.
  HandshakeInitiator(const NodeKey& self, const PublicKey& responder, std::string_view prologue);
  ~HandshakeInitiator();
  std::string request();  // the first message, once
  Status finish(std::string_view response, SecureSession* session);

 private:
  std::optional<NoiseHandshake> noise_;  // gone after finish()
};

// The responder's side, in one step: checks the request, asks `admit` about the initiator's
// static key, answers. On error nothing is sent.
Status handshake_respond(const NodeKey& self, std::string_view prologue, std::string_view request,
                         const std::function<Status(const PublicKey& initiator)>& admit, std::string* response,
                         SecureSession* session);

}  // namespace fednode::crypto
