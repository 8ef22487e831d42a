#include "fednode/crypto/handshake.h"

#include <sodium.h>

#include <cstring>
#include <memory>

#include "fednode/util/big_endian.h"
namespace fednode::crypto {
namespace {

using Key = std::array<std::uint8_t, 32>;
constexpr char kProtocol[] = "Noise_IK_25519_XChaChaPoly_BLAKE2b fednode 1";

Key hash(std::string_view a, std::string_view b = {}) {
  Key out;
  crypto_generichash_state st;
  crypto_generichash_init(&st, nullptr, 0, out.size());
  crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(a.data()), a.size());
  crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(b.data()), b.size());
  crypto_generichash_final(&st, out.data(), out.size());
  return out;
}

Key keyed(const Key& key, std::string_view data) {
  Key out;
  crypto_generichash(out.data(), out.size(), reinterpret_cast<const unsigned char*>(data.data()), data.size(),
                     key.data(), key.size());
  return out;
}

std::string_view view(const Key& k) { return {reinterpret_cast<const char*>(k.data()), k.size()}; }

void nonce_of(std::uint64_t n, unsigned char* nonce) {
  std::memset(nonce, 0, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
  store_be(nonce + 16, n, 8);
}

std::string encrypt(const Key& k, std::uint64_t n, std::string_view ad, std::string_view plain) {
  unsigned char nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
  nonce_of(n, nonce);
  std::string out(plain.size() + crypto_aead_xchacha20poly1305_ietf_ABYTES, '\0');
  unsigned long long len = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(reinterpret_cast<unsigned char*>(out.data()), &len,
                                             reinterpret_cast<const unsigned char*>(plain.data()), plain.size(),
                                             reinterpret_cast<const unsigned char*>(ad.data()), ad.size(), nullptr,
                                             nonce, k.data());
  out.resize(len);
  return out;
}

bool decrypt(const Key& k, std::uint64_t n, std::string_view ad, std::string_view cipher, std::string* plain) {
  if (cipher.size() < crypto_aead_xchacha20poly1305_ietf_ABYTES) return false;
  unsigned char nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
  nonce_of(n, nonce);
  plain->resize(cipher.size() - crypto_aead_xchacha20poly1305_ietf_ABYTES);
  unsigned long long len = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(reinterpret_cast<unsigned char*>(plain->data()), &len, nullptr,
                                                 reinterpret_cast<const unsigned char*>(cipher.data()), cipher.size(),
                                                 reinterpret_cast<const unsigned char*>(ad.data()), ad.size(), nonce,
                                                 k.data()) != 0) {
    return false;
  }
  plain->resize(len);
  return true;
}

// Noise's SymmetricState, with BLAKE2b's keyed mode as the PRF of HKDF.
struct Symmetric {
  Key h{}, ck{}, k{};
  bool has_key = false;
  std::uint64_t n = 0;

  explicit Symmetric(std::string_view prologue) {
    h = hash(kProtocol);
    ck = h;
    mix_hash(prologue);
  }
  void mix_hash(std::string_view data) { h = hash(view(h), data); }
  bool mix_key(const Key& dh) {
    static const Key zero{};
    if (sodium_memcmp(dh.data(), zero.data(), zero.size()) == 0) return false;  // a low-order point
    Key temp = keyed(ck, view(dh));
    ck = keyed(temp, "\x01");
    k = keyed(temp, std::string(view(ck)) + "\x02");
    has_key = true;
    n = 0;
    return true;
  }
  std::string encrypt_and_hash(std::string_view plain) {
    std::string c = encrypt(k, n++, view(h), plain);
    mix_hash(c);
    return c;
  }
  bool decrypt_and_hash(std::string_view c, std::string* plain) {
    if (!decrypt(k, n++, view(h), c, plain)) return false;
    mix_hash(c);
    return true;
  }
  void split(Key* first, Key* second) const {
    Key temp = keyed(ck, "");
    *first = keyed(temp, "\x01");
    *second = keyed(temp, std::string(view(*first)) + "\x02");
  }
  ~Symmetric() {
    sodium_memzero(ck.data(), ck.size());
    sodium_memzero(k.data(), k.size());
  }
};

bool dh(const std::array<std::uint8_t, 32>& secret, const std::array<std::uint8_t, 32>& pub, Key* out) {
  return crypto_scalarmult(out->data(), secret.data(), pub.data()) == 0;
}

}  // namespace

FrameCipher::~FrameCipher() { sodium_memzero(key_.data(), key_.size()); }

std::string FrameCipher::seal(std::string_view plaintext) {
  std::string c = encrypt(key_, counter_++, {}, plaintext);
  std::string out;
  out.reserve(4 + c.size());
  put_be(out, c.size(), 4);
  out += c;
  return out;
}

Status FrameCipher::open(std::string_view ciphertext, std::string* plaintext) {
  if (!decrypt(key_, counter_, {}, ciphertext, plaintext)) {
    return Status::error("a frame failed authentication (tampered, reordered, replayed or from elsewhere)");
  }
  ++counter_;
  return {};
}

struct HandshakeInitiator::State {
  NodeKey self;
  PublicKey responder;
  Symmetric sym;
  std::array<std::uint8_t, 32> e_pub{}, e_sec{};
  State(const NodeKey& s, const PublicKey& r, std::string_view prologue) : self(s), responder(r), sym(prologue) {}
  ~State() {
    sodium_memzero(e_sec.data(), e_sec.size());
    sodium_memzero(self.secret.data(), self.secret.size());
  }
};

HandshakeInitiator::HandshakeInitiator(const NodeKey& self, const PublicKey& responder, std::string_view prologue)
    : s_(std::make_unique<State>(self, responder, prologue)) {}

HandshakeInitiator::~HandshakeInitiator() = default;

std::string HandshakeInitiator::request() {
  State& s = *s_;
  s.sym.mix_hash(view(s.responder.bytes));  // pre-message: <- s
  crypto_kx_keypair(s.e_pub.data(), s.e_sec.data());
  std::string out(view(s.e_pub));
  s.sym.mix_hash(view(s.e_pub));
  Key shared;
  if (!dh(s.e_sec, s.responder.bytes, &shared) || !s.sym.mix_key(shared)) return "";  // es
  out += s.sym.encrypt_and_hash(view(s.self.public_key.bytes));                      // s
  if (!dh(s.self.secret, s.responder.bytes, &shared) || !s.sym.mix_key(shared)) return "";  // ss
  out += s.sym.encrypt_and_hash("");
  sodium_memzero(shared.data(), shared.size());
  return out;
}

Status HandshakeInitiator::finish(std::string_view response, SecureSession* session) {
  State& s = *s_;
  if (response.size() != kHandshakeResponseBytes) return Status::error("handshake response of the wrong size");
  Key re;
  std::memcpy(re.data(), response.data(), 32);
  s.sym.mix_hash(response.substr(0, 32));
  Key shared;
  std::string payload;
  if (!dh(s.e_sec, re, &shared) || !s.sym.mix_key(shared) ||                    // ee
      !dh(s.self.secret, re, &shared) || !s.sym.mix_key(shared) ||              // se
      !s.sym.decrypt_and_hash(response.substr(32), &payload)) {
    return Status::error("the responder failed the handshake (not the key it was expected to hold)");
  }
  sodium_memzero(shared.data(), shared.size());
  Key tx, rx;
  s.sym.split(&tx, &rx);
  session->send = FrameCipher(tx);
  session->receive = FrameCipher(rx);
  session->peer = s.responder;
  sodium_memzero(tx.data(), tx.size());
  sodium_memzero(rx.data(), rx.size());
  return {};
}

Status handshake_respond(const NodeKey& self, std::string_view prologue, std::string_view request,
                         const std::function<Status(const PublicKey& initiator)>& admit, std::string* response,
                         SecureSession* session) {
  if (request.size() != kHandshakeRequestBytes) return Status::error("handshake request of the wrong size");
  Symmetric sym(prologue);
  sym.mix_hash(view(self.public_key.bytes));
  Key ie, shared;
  std::memcpy(ie.data(), request.data(), 32);
  sym.mix_hash(request.substr(0, 32));
  std::string initiator_static, payload;
  if (!dh(self.secret, ie, &shared) || !sym.mix_key(shared) ||                              // es
      !sym.decrypt_and_hash(request.substr(32, 48), &initiator_static) || initiator_static.size() != 32) {
    return Status::error("handshake request failed authentication (not meant for this node's key)");
  }
  PublicKey initiator;
  std::memcpy(initiator.bytes.data(), initiator_static.data(), 32);
  if (!dh(self.secret, initiator.bytes, &shared) || !sym.mix_key(shared) ||                 // ss
      !sym.decrypt_and_hash(request.substr(80), &payload)) {
    return Status::error("handshake request failed authentication (the sender does not hold its key)");
  }
  if (Status s = admit(initiator); !s.ok()) return s;
  std::array<std::uint8_t, 32> e_pub{}, e_sec{};
  crypto_kx_keypair(e_pub.data(), e_sec.data());
  std::string out(view(e_pub));
  sym.mix_hash(view(e_pub));
  bool ok = dh(e_sec, ie, &shared) && sym.mix_key(shared) &&                                // ee
            dh(e_sec, initiator.bytes, &shared) && sym.mix_key(shared);                     // se
  sodium_memzero(e_sec.data(), e_sec.size());
  sodium_memzero(shared.data(), shared.size());
  if (!ok) return Status::error("handshake: degenerate key");
  out += sym.encrypt_and_hash("");
  Key first, second;
  sym.split(&first, &second);
  session->send = FrameCipher(second);
  session->receive = FrameCipher(first);
  session->peer = initiator;
  sodium_memzero(first.data(), first.size());
  sodium_memzero(second.data(), second.size());
  *response = std::move(out);
  return {};
}

}  // namespace fednode::crypto
