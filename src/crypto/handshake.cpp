#include "fednode/crypto/handshake.h"

#include <stdexcept>

#include "fednode/util/big_endian.h"

namespace fednode::crypto {

std::string FrameCipher::seal(std::string_view plaintext) {
  if (!cipher_.has_key()) throw std::logic_error("a frame sealed without a session key");
  std::string c = cipher_.encrypt_with_ad({}, plaintext);
  std::string out;
  out.reserve(4 + c.size());
  put_be(out, c.size(), 4);
  out += c;
  return out;
}

Status FrameCipher::open(std::string_view ciphertext, std::string* plaintext) {
  if (!cipher_.has_key() || !cipher_.decrypt_with_ad({}, ciphertext, plaintext)) {
    return Status::error("a frame failed authentication (tampered, reordered, replayed or from elsewhere)");
  }
  return {};
}

HandshakeInitiator::HandshakeInitiator(const NodeKey& self, const PublicKey& responder, std::string_view prologue)
    : noise_(NoiseHandshake::initiator(self, responder, prologue)) {}

HandshakeInitiator::~HandshakeInitiator() = default;

std::string HandshakeInitiator::request() {
  std::string out;
  if (!noise_ || !noise_->write_message({}, &out).ok()) return "";
  return out;
}

Status HandshakeInitiator::finish(std::string_view response, SecureSession* session) {
  if (response.size() != kHandshakeResponseBytes) return Status::error("handshake response of the wrong size");
  std::string payload;
  if (!noise_ || !noise_->read_message(response, &payload).ok() || !payload.empty()) {
    return Status::error("the responder failed the handshake (not the key it was expected to hold)");
  }
  NoiseCipher send, receive;
  noise_->split(&send, &receive);
  session->send = FrameCipher(std::move(send));
  session->receive = FrameCipher(std::move(receive));
  session->peer = noise_->remote_static();
  noise_.reset();  // the handshake's secrets go once the session has its keys
  return {};
}

Status handshake_respond(const NodeKey& self, std::string_view prologue, std::string_view request,
                         const std::function<Status(const PublicKey& initiator)>& admit, std::string* response,
                         SecureSession* session) {
  if (request.size() != kHandshakeRequestBytes) return Status::error("handshake request of the wrong size");
  NoiseHandshake noise = NoiseHandshake::responder(self, prologue);
  std::string payload;
  if (Status s = noise.read_message(request, &payload); !s.ok()) return Status::error("handshake request: " + s.message());
  if (Status s = admit(noise.remote_static()); !s.ok()) return s;
  std::string out;
  if (Status s = noise.write_message({}, &out); !s.ok()) return s;
  NoiseCipher send, receive;
  noise.split(&send, &receive);
  session->send = FrameCipher(std::move(send));
  session->receive = FrameCipher(std::move(receive));
  session->peer = noise.remote_static();
  *response = std::move(out);
  return {};
}

}  // namespace fednode::crypto
