#include "fednode/crypto/noise.h"

#include <sodium.h>

#include <cstring>
#include <stdexcept>

namespace fednode::crypto {
namespace {

using Hash = std::array<std::uint8_t, kNoiseHashBytes>;
using Key32 = std::array<std::uint8_t, 32>;
constexpr std::size_t kBlockBytes = 128;  // BLAKE2b's block, HMAC's padding length

const unsigned char* bytes(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }
template <std::size_t N>
std::string_view view(const std::array<std::uint8_t, N>& a) {
  return {reinterpret_cast<const char*>(a.data()), N};
}

Hash blake2b(std::string_view a, std::string_view b = {}) {
  Hash out;
  crypto_generichash_state st;
  crypto_generichash_init(&st, nullptr, 0, out.size());
  crypto_generichash_update(&st, bytes(a), a.size());
  crypto_generichash_update(&st, bytes(b), b.size());
  crypto_generichash_final(&st, out.data(), out.size());
  return out;
}

// HMAC (RFC 2104) over BLAKE2b, as Noise defines HMAC-HASH. Keys here are never longer than a block.
Hash hmac(const Hash& key, std::string_view data) {
  std::array<std::uint8_t, kBlockBytes> ipad{}, opad{};
  for (std::size_t i = 0; i < kBlockBytes; ++i) {
    std::uint8_t k = i < key.size() ? key[i] : 0;
    ipad[i] = k ^ 0x36;
    opad[i] = k ^ 0x5c;
  }
  Hash inner = blake2b(view(ipad), data);
  Hash out = blake2b(view(opad), view(inner));
  sodium_memzero(ipad.data(), ipad.size());
  sodium_memzero(opad.data(), opad.size());
  sodium_memzero(inner.data(), inner.size());
  return out;
}

// HKDF(chaining_key, input_key_material, 2), each output truncated to a 32-byte cipher key where
// the caller uses it as one.
void hkdf2(const Hash& ck, std::string_view ikm, Hash* out1, Hash* out2) {
  Hash temp = hmac(ck, ikm);
  *out1 = hmac(temp, "\x01");
  std::string second(view(*out1));
  second.push_back('\x02');
  *out2 = hmac(temp, second);
  sodium_memzero(temp.data(), temp.size());
  sodium_memzero(second.data(), second.size());
}

Key32 truncate(const Hash& h) {
  Key32 k;
  std::memcpy(k.data(), h.data(), k.size());
  return k;
}

void nonce_of(std::uint64_t n, unsigned char* nonce) {
  std::memset(nonce, 0, crypto_aead_chacha20poly1305_ietf_NPUBBYTES);
  for (int i = 0; i < 8; ++i) nonce[4 + i] = static_cast<unsigned char>(n >> (8 * i));  // little-endian
}

bool dh(const Key32& secret, const Key32& pub, Key32* out) {
  return crypto_scalarmult(out->data(), secret.data(), pub.data()) == 0;  // refuses low-order points
}

void set_ephemeral(const std::optional<NodeKey>& given, NodeKey* e) {
  if (given) {
    *e = *given;
  } else {
    crypto_kx_keypair(e->public_key.bytes.data(), e->secret.data());
  }
}

constexpr std::uint64_t kNonceExhausted = ~std::uint64_t{0};  // reserved by the framework

}  // namespace

NoiseCipher::~NoiseCipher() { sodium_memzero(key_.data(), key_.size()); }

std::string NoiseCipher::encrypt_with_ad(std::string_view ad, std::string_view plaintext) {
  if (!has_key_) return std::string(plaintext);
  if (n_ == kNonceExhausted) throw std::length_error("noise: 2^64-1 messages under one key");
  unsigned char nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];
  nonce_of(n_++, nonce);
  std::string out(plaintext.size() + crypto_aead_chacha20poly1305_ietf_ABYTES, '\0');
  unsigned long long len = 0;
  crypto_aead_chacha20poly1305_ietf_encrypt(reinterpret_cast<unsigned char*>(out.data()), &len, bytes(plaintext),
                                            plaintext.size(), bytes(ad), ad.size(), nullptr, nonce, key_.data());
  out.resize(len);
  return out;
}

bool NoiseCipher::decrypt_with_ad(std::string_view ad, std::string_view ciphertext, std::string* plaintext) {
  if (!has_key_) {
    plaintext->assign(ciphertext);
    return true;
  }
  if (ciphertext.size() < crypto_aead_chacha20poly1305_ietf_ABYTES || n_ == kNonceExhausted) return false;
  unsigned char nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];
  nonce_of(n_, nonce);
  plaintext->resize(ciphertext.size() - crypto_aead_chacha20poly1305_ietf_ABYTES);
  unsigned long long len = 0;
  if (crypto_aead_chacha20poly1305_ietf_decrypt(reinterpret_cast<unsigned char*>(plaintext->data()), &len, nullptr,
                                                bytes(ciphertext), ciphertext.size(), bytes(ad), ad.size(), nonce,
                                                key_.data()) != 0) {
    return false;
  }
  plaintext->resize(len);
  ++n_;
  return true;
}

namespace {

// The framework's SymmetricState.
struct Symmetric {
  Hash h{}, ck{};
  NoiseCipher cipher;

  Symmetric() {
    static_assert(sizeof kNoiseProtocolName - 1 <= kNoiseHashBytes);
    std::memcpy(h.data(), kNoiseProtocolName, sizeof kNoiseProtocolName - 1);  // padded with zeros
    ck = h;
  }
  ~Symmetric() { sodium_memzero(ck.data(), ck.size()); }
  void mix_hash(std::string_view data) { h = blake2b(view(h), data); }
  void mix_key(const Key32& ikm) {
    Hash next_ck, temp_k;
    hkdf2(ck, view(ikm), &next_ck, &temp_k);
    ck = next_ck;
    Key32 k = truncate(temp_k);
    cipher = NoiseCipher(k);
    sodium_memzero(k.data(), k.size());
    sodium_memzero(next_ck.data(), next_ck.size());
    sodium_memzero(temp_k.data(), temp_k.size());
  }
  std::string encrypt_and_hash(std::string_view plaintext) {
    std::string c = cipher.encrypt_with_ad(view(h), plaintext);
    mix_hash(c);
    return c;
  }
  bool decrypt_and_hash(std::string_view ciphertext, std::string* plaintext) {
    if (!cipher.decrypt_with_ad(view(h), ciphertext, plaintext)) return false;
    mix_hash(ciphertext);
    return true;
  }
  void split(NoiseCipher* c1, NoiseCipher* c2) const {
    Hash k1, k2;
    hkdf2(ck, {}, &k1, &k2);
    Key32 key1 = truncate(k1), key2 = truncate(k2);
    *c1 = NoiseCipher(key1);
    *c2 = NoiseCipher(key2);
    for (auto* k : {&key1, &key2}) sodium_memzero(k->data(), k->size());
    sodium_memzero(k1.data(), k1.size());
    sodium_memzero(k2.data(), k2.size());
  }
};

}  // namespace

struct NoiseHandshake::State {
  bool initiator = false;
  int next_message = 0;  // 0: -> e, es, s, ss   1: <- e, ee, se   2: done
  bool failed = false;
  NodeKey s, e;
  PublicKey rs, re;
  Symmetric sym;
  ~State() {
    sodium_memzero(s.secret.data(), s.secret.size());
    sodium_memzero(e.secret.data(), e.secret.size());
  }
  bool mix_dh(const Key32& secret, const Key32& pub) {
    Key32 shared;
    bool ok = dh(secret, pub, &shared);
    if (ok) sym.mix_key(shared);
    sodium_memzero(shared.data(), shared.size());
    return ok;
  }
  bool writes_next() const { return (next_message == 0) == initiator && next_message < 2; }
};

NoiseHandshake::NoiseHandshake(std::unique_ptr<State> s) : s_(std::move(s)) {}
NoiseHandshake::NoiseHandshake(NoiseHandshake&&) noexcept = default;
NoiseHandshake& NoiseHandshake::operator=(NoiseHandshake&&) noexcept = default;
NoiseHandshake::~NoiseHandshake() = default;

NoiseHandshake NoiseHandshake::initiator(const NodeKey& self, const PublicKey& responder, std::string_view prologue,
                                         const std::optional<NodeKey>& ephemeral) {
  auto st = std::make_unique<State>();
  st->initiator = true;
  st->s = self;
  st->rs = responder;
  set_ephemeral(ephemeral, &st->e);
  st->sym.mix_hash(prologue);
  st->sym.mix_hash(view(responder.bytes));  // pre-message: <- s
  return NoiseHandshake(std::move(st));
}

NoiseHandshake NoiseHandshake::responder(const NodeKey& self, std::string_view prologue,
                                         const std::optional<NodeKey>& ephemeral) {
  auto st = std::make_unique<State>();
  st->s = self;
  set_ephemeral(ephemeral, &st->e);
  st->sym.mix_hash(prologue);
  st->sym.mix_hash(view(self.public_key.bytes));  // pre-message: <- s
  return NoiseHandshake(std::move(st));
}

Status NoiseHandshake::write_message(std::string_view payload, std::string* message) {
  State& st = *s_;
  if (st.failed || !st.writes_next()) return Status::error("noise handshake: not this side's turn to write");
  std::string out(view(st.e.public_key.bytes));  // e
  st.sym.mix_hash(view(st.e.public_key.bytes));
  bool ok = true;
  if (st.next_message == 0) {
    ok = st.mix_dh(st.e.secret, st.rs.bytes);                   // es
    if (ok) out += st.sym.encrypt_and_hash(view(st.s.public_key.bytes));  // s
    ok = ok && st.mix_dh(st.s.secret, st.rs.bytes);             // ss
  } else {
    ok = st.mix_dh(st.e.secret, st.re.bytes) &&                 // ee
         st.mix_dh(st.e.secret, st.rs.bytes);                   // se (responder: DH(e, rs))
  }
  if (!ok) {
    st.failed = true;
    return Status::error("noise handshake: a Diffie-Hellman result was degenerate (a low-order key)");
  }
  out += st.sym.encrypt_and_hash(payload);
  ++st.next_message;
  *message = std::move(out);
  return {};
}

Status NoiseHandshake::read_message(std::string_view message, std::string* payload) {
  State& st = *s_;
  if (st.failed || st.writes_next() || st.next_message >= 2) {
    return Status::error("noise handshake: not this side's turn to read");
  }
  std::size_t fixed = st.next_message == 0 ? 32 + 32 + kNoiseTagBytes + kNoiseTagBytes : 32 + kNoiseTagBytes;
  if (message.size() < fixed) return Status::error("noise handshake: message too short");
  st.failed = true;  // until it authenticates
  std::memcpy(st.re.bytes.data(), message.data(), 32);  // e
  st.sym.mix_hash(message.substr(0, 32));
  if (st.next_message == 0) {
    std::string rs;
    if (!st.mix_dh(st.s.secret, st.re.bytes) ||                 // es (responder: DH(s, re))
        !st.sym.decrypt_and_hash(message.substr(32, 32 + kNoiseTagBytes), &rs)) {  // s
      return Status::error("noise handshake: the first message does not authenticate (not meant for this key)");
    }
    std::memcpy(st.rs.bytes.data(), rs.data(), 32);
    if (!st.mix_dh(st.s.secret, st.rs.bytes) ||                 // ss
        !st.sym.decrypt_and_hash(message.substr(32 + 32 + kNoiseTagBytes), payload)) {
      return Status::error("noise handshake: the sender does not hold the static key it sent");
    }
  } else {
    if (!st.mix_dh(st.e.secret, st.re.bytes) ||                 // ee
        !st.mix_dh(st.s.secret, st.re.bytes) ||                 // se (initiator: DH(s, re))
        !st.sym.decrypt_and_hash(message.substr(32), payload)) {
      return Status::error("noise handshake: the answer does not authenticate (not the key the responder should hold)");
    }
  }
  st.failed = false;
  ++st.next_message;
  return {};
}

bool NoiseHandshake::finished() const { return s_->next_message == 2 && !s_->failed; }

void NoiseHandshake::split(NoiseCipher* send, NoiseCipher* receive) const {
  if (!finished()) throw std::logic_error("noise: split before the handshake finished");
  if (s_->initiator) {
    s_->sym.split(send, receive);
  } else {
    s_->sym.split(receive, send);
  }
}

const PublicKey& NoiseHandshake::remote_static() const { return s_->rs; }

std::array<std::uint8_t, kNoiseHashBytes> NoiseHandshake::handshake_hash() const { return s_->sym.h; }

}  // namespace fednode::crypto
