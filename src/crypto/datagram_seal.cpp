#include "fednode/crypto/datagram_seal.h"

#include <sodium.h>

#include <cstring>

#include "fednode/util/big_endian.h"
#include "fednode/util/varint.h"

namespace fednode::crypto {
namespace {

// Salted: epoch (4) | salt (8) | counter (8) | 0 (4). Unsalted: epoch (4) | counter (8) | 0 (12).
// The two never meet: a salted counter is at least 1, so its bytes 12-19 are never all zero.
void nonce_of(std::uint32_t epoch, bool salted, std::uint64_t salt, std::uint64_t counter, unsigned char* nonce) {
  std::memset(nonce, 0, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
  store_be(nonce, epoch, 4);
  if (salted) {
    store_be(nonce + 4, salt, 8);
    store_be(nonce + 12, counter, 8);
  } else {
    store_be(nonce + 4, counter, 8);
  }
}

constexpr unsigned char kCompactMagic = 0xF2;
constexpr unsigned char kMarkMask = 0xC0, kTagMask = 0x3F;
constexpr unsigned char kPackedMark = 0x80, kSaltedMark = 0x00;

DatagramSealer::Format format_of(unsigned char first) {
  using F = DatagramSealer::Format;
  if (first == kCompactMagic) return F::kCompact;
  if ((first & kMarkMask) == kSaltedMark) return F::kSalted;
  return (first & kMarkMask) == kPackedMark ? F::kPacked : F::kV1;
}

std::uint64_t random_salt() {
  std::uint64_t salt = 0;
  randombytes_buf(&salt, sizeof salt);
  return salt;
}

// The compact header leaves out what the receiver knows; the associated data puts it back.
std::string compact_ad(std::string_view header, std::uint64_t sender, std::uint64_t receiver, const std::string& cluster) {
  std::string ad(header);
  put_be(ad, sender, 8);
  put_be(ad, receiver, 8);
  return ad + cluster;
}

}  // namespace

DatagramSealer::DatagramSealer(const NodeKey& self, std::uint32_t epoch, std::string cluster_id)
    : self_(self),
      self_id_(node_id_of_key(self.public_key)),
      epoch_(epoch),
      salt_(random_salt()),
      cluster_id_(std::move(cluster_id)) {}

DatagramSealer::~DatagramSealer() {
  sodium_memzero(self_.secret.data(), self_.secret.size());
  for (auto& [id, k] : peers_) sodium_memzero(&k, sizeof k);
}

void DatagramSealer::add_peer(std::uint64_t id, const PublicKey& key) {
  if (peers_.count(id)) return;
  Keys p;
  // crypto_kx needs a client and a server: the node with the smaller public key is the client.
  const auto& mine = self_.public_key.bytes;
  int rc = std::memcmp(mine.data(), key.bytes.data(), mine.size()) < 0
               ? crypto_kx_client_session_keys(p.rx.data(), p.tx.data(), mine.data(), self_.secret.data(), key.bytes.data())
               : crypto_kx_server_session_keys(p.rx.data(), p.tx.data(), mine.data(), self_.secret.data(), key.bytes.data());
  if (rc != 0) return;  // a degenerate public key: the peer stays unknown, its datagrams dropped
  peers_[id] = p;
}

void DatagramSealer::remove_peer(std::uint64_t id) {
  auto it = peers_.find(id);
  if (it == peers_.end()) return;
  sodium_memzero(&it->second, sizeof it->second);
  peers_.erase(it);
}

Status DatagramSealer::seal(std::uint64_t to, std::string_view plaintext, std::string* datagram, Format format) {
  auto it = peers_.find(to);
  if (it == peers_.end()) return Status::error("no key for node " + std::to_string(to));
  std::uint64_t counter = ++sent_[to];
  std::string& out = *datagram;
  out.clear();
  out.reserve(kOverhead + plaintext.size());
  std::string ad;
  if (format == Format::kV1) {
    out.append("FS");
    out.push_back(1);
    put_be(out, self_id_, 8);
    put_be(out, to, 8);
    put_be(out, epoch_, 4);
    put_be(out, counter, 8);
    ad = out + cluster_id_;
  } else {
    if (format == Format::kCompact) {
      out.push_back(static_cast<char>(kCompactMagic));
      put_be(out, self_id_ & 0xffff, 2);
    } else {
      unsigned char mark = format == Format::kSalted ? kSaltedMark : kPackedMark;
      out.push_back(static_cast<char>(mark | (self_id_ & kTagMask)));
    }
    put_varint(out, epoch_);
    if (format == Format::kSalted) put_be(out, salt_, 8);
    put_varint(out, counter);
    ad = compact_ad(out, self_id_, to, cluster_id_);
  }
  std::size_t header = out.size();
  unsigned char nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
  nonce_of(epoch_, format == Format::kSalted, salt_, counter, nonce);
  out.resize(header + plaintext.size() + crypto_aead_xchacha20poly1305_ietf_ABYTES);
  unsigned long long written = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(
      reinterpret_cast<unsigned char*>(out.data()) + header, &written,
      reinterpret_cast<const unsigned char*>(plaintext.data()), plaintext.size(),
      reinterpret_cast<const unsigned char*>(ad.data()), ad.size(), nullptr, nonce, it->second.tx.data());
  out.resize(header + written);
  return {};
}

bool DatagramSealer::accept_fresh(Window& w, const Boot& boot, std::uint64_t counter) {
  if (w.seen_any && boot.epoch < w.boot.epoch) return false;  // an earlier boot of the sender
  if (!w.seen_any || boot.epoch > w.boot.epoch) {
    w.seen_any = true, w.boot = boot, w.highest = counter, w.bits = 1;
    return true;
  }
  // The same epoch with another salt: another process with a copy of the sender's data dir
  // (restored, or two processes on it). Only the one heard first is read, so replays of the two
  // cannot alternate. Unsalted datagrams (to a peer not upgraded yet) share the boot's counter.
  if (boot.salted && w.boot.salted && boot.salt != w.boot.salt) return false;
  if (boot.salted) w.boot = boot;
  if (counter > w.highest) {
    std::uint64_t shift = counter - w.highest;
    w.bits = shift >= 64 ? 1 : (w.bits << shift) | 1;
    w.highest = counter;
    return true;
  }
  std::uint64_t age = w.highest - counter;
  if (age >= 64 || (w.bits >> age) & 1) return false;
  w.bits |= std::uint64_t{1} << age;
  return true;
}

DatagramSealer::Verdict DatagramSealer::open(std::string_view d, std::uint64_t* from, std::string* plaintext,
                                             Format* format) {
  if (d.empty()) return Verdict::kMalformed;
  auto first = static_cast<unsigned char>(d[0]);
  Format f = format_of(first);
  Verdict v;
  switch (f) {
    case Format::kSalted: v = open_tagged(d, 1, true, first & kTagMask, kTagMask, from, plaintext); break;
    case Format::kPacked: v = open_tagged(d, 1, false, first & kTagMask, kTagMask, from, plaintext); break;
    case Format::kCompact:
      v = d.size() < 3 ? Verdict::kMalformed : open_tagged(d, 3, false, get_be(d.data() + 1, 2), 0xffff, from, plaintext);
      break;
    default: v = open_v1(d, from, plaintext); break;
  }
  if (v == Verdict::kOk && format) *format = f;
  return v;
}

DatagramSealer::Verdict DatagramSealer::open_v1(std::string_view d, std::uint64_t* from, std::string* plaintext) {
  if (d.size() < kOverhead || d[0] != 'F' || d[1] != 'S' || d[2] != 1) return Verdict::kMalformed;
  auto h = reinterpret_cast<const unsigned char*>(d.data());
  std::uint64_t sender = get_be(h + 3, 8), receiver = get_be(h + 11, 8), counter = get_be(h + 23, 8);
  auto epoch = static_cast<std::uint32_t>(get_be(h + 19, 4));
  if (receiver != self_id_) return Verdict::kAuthFailed;
  auto it = peers_.find(sender);
  if (it == peers_.end()) return Verdict::kUnknownSender;
  Verdict v = open_from(sender, it->second, Boot{epoch}, counter, std::string(d.substr(0, kHeaderBytes)) + cluster_id_,
                        d.substr(kHeaderBytes), plaintext);
  if (v == Verdict::kOk) *from = sender;
  return v;
}

DatagramSealer::Verdict DatagramSealer::open_tagged(std::string_view d, std::size_t pos, bool salted, std::uint64_t tag,
                                                    std::uint64_t tag_mask, std::uint64_t* from, std::string* plaintext) {
  std::uint64_t epoch = 0, counter = 0;
  Boot boot;
  if (!get_varint(d, &pos, &epoch) || epoch > UINT32_MAX) return Verdict::kMalformed;
  boot.epoch = static_cast<std::uint32_t>(epoch);
  if (salted) {
    if (d.size() - pos < 8) return Verdict::kMalformed;
    boot.salted = true;
    boot.salt = get_be(d.data() + pos, 8);
    pos += 8;
  }
  if (!get_varint(d, &pos, &counter) || (salted && counter == 0) ||
      d.size() - pos < crypto_aead_xchacha20poly1305_ietf_ABYTES) {
    return Verdict::kMalformed;
  }
  std::string_view header = d.substr(0, pos);
  Verdict verdict = Verdict::kUnknownSender;
  // Peers sharing the tag are each tried: only the sender's key opens it.
  for (const auto& [id, keys] : peers_) {
    if ((id & tag_mask) != tag) continue;
    Verdict v = open_from(id, keys, boot, counter, compact_ad(header, id, self_id_, cluster_id_), d.substr(pos), plaintext);
    if (v == Verdict::kOk) {
      *from = id;
      return v;
    }
    if (verdict != Verdict::kReplayed) verdict = v;
  }
  return verdict;
}

DatagramSealer::Verdict DatagramSealer::open_from(std::uint64_t id, const Keys& keys, const Boot& boot, std::uint64_t counter, const std::string& ad,
                                                  std::string_view sealed, std::string* plaintext) {
  unsigned char nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
  nonce_of(boot.epoch, boot.salted, boot.salt, counter, nonce);
  plaintext->resize(sealed.size());
  unsigned long long got = 0;
  // The seal first: a forgery is counted as one whatever counter it names.
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(
          reinterpret_cast<unsigned char*>(plaintext->data()), &got, nullptr,
          reinterpret_cast<const unsigned char*>(sealed.data()), sealed.size(),
          reinterpret_cast<const unsigned char*>(ad.data()), ad.size(), nonce, keys.rx.data()) != 0) {
    return Verdict::kAuthFailed;
  }
  plaintext->resize(got);
  // Only an authentic datagram moves the window.
  return accept_fresh(heard_[id], boot, counter) ? Verdict::kOk : Verdict::kReplayed;
}

}  // namespace fednode::crypto
