// The secure channels' first bytes: a handshake request as a responder reads it, a response as an
// initiator reads it, a sealed frame and a sealed peer datagram. Random bytes must fail cleanly;
// the inputs may also be the fixed test keys' real messages, which must then succeed.
#include <sodium.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "fednode/crypto/datagram_seal.h"
#include "fednode/crypto/handshake.h"

namespace {

using namespace fednode::crypto;

// Fixed keys, so that a kept corpus can hold messages made under them.
NodeKey fixed_key(std::uint8_t fill) {
  NodeKey k;
  k.secret.fill(fill);
  crypto_scalarmult_base(k.public_key.bytes.data(), k.secret.data());
  return k;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const bool ready = sodium_init() >= 0;
  static const NodeKey server = fixed_key(1), client = fixed_key(2);
  if (!ready) __builtin_trap();
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  std::string response;
  SecureSession session;
  (void)handshake_respond(server, "fuzz", bytes, [](const PublicKey&) { return fednode::Status(); }, &response,
                          &session);
  HandshakeInitiator initiator(client, server.public_key, "fuzz");
  (void)initiator.request();
  SecureSession client_session;
  (void)initiator.finish(bytes, &client_session);
  std::string plain;
  (void)session.receive.open(bytes, &plain);
  DatagramSealer sealer(server, 1, "fednode");
  sealer.add_peer(node_id_of_key(client.public_key), client.public_key);
  std::uint64_t from = 0;
  (void)sealer.open(bytes, &from, &plain);
  return 0;
}
