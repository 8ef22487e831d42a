#include "fednode/crypto/node_key.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <sstream>

#include "fednode/util/file_io.h"

namespace fednode::crypto {
namespace {

constexpr char kHeader[] = "fednode-node-key 1";
constexpr int kVariant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;

std::string b64(const std::uint8_t* data, std::size_t n) {
  std::string out(sodium_base64_ENCODED_LEN(n, kVariant), '\0');
  sodium_bin2base64(out.data(), out.size(), data, n, kVariant);
  out.resize(std::strlen(out.c_str()));
  return out;
}

bool unb64(std::string_view text, std::array<std::uint8_t, 32>* out) {
  std::size_t len = 0;
  const char* end = nullptr;
  if (sodium_base642bin(out->data(), out->size(), text.data(), text.size(), nullptr, &len, &end, kVariant) != 0) {
    return false;
  }
  return len == out->size() && end == text.data() + text.size();
}

// The whole of an open file, at most `limit` bytes (a key file is about 150).
bool read_all(int fd, std::string* out, std::size_t limit) {
  out->clear();
  char buf[512];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    if (n == 0) return true;
    out->append(buf, static_cast<std::size_t>(n));
    if (out->size() > limit) {
      errno = EFBIG;
      return false;
    }
  }
}

}  // namespace

std::string PublicKey::text() const { return b64(bytes.data(), bytes.size()); }

std::optional<PublicKey> PublicKey::parse(std::string_view text, std::string* why) {
  PublicKey k;
  if (text.size() != 43 || !unb64(text, &k.bytes)) {
    *why = std::string("'").append(text.substr(0, 60)) + "' is not a node public key (43 characters of base64url, as " +
           "`fednode keygen` prints)";
    return std::nullopt;
  }
  return k;
}

Status generate_key_file(const std::string& path, PublicKey* public_key) {
  if (sodium_init() < 0) return Status::error("libsodium failed to initialise");
  NodeKey k;
  // A key whose text starts with '-' reads as an option on a command line: draw again (1 in 64
  // draws; the key space loses 2^-6 of itself, 0.02 bits). Older keys that start with it still parse.
  do {
    crypto_kx_keypair(k.public_key.bytes.data(), k.secret.data());
  } while (k.public_key.text().front() == '-');
  std::string text = std::string(kHeader) + "\npublic " + k.public_key.text() + "\nsecret " +
                     b64(k.secret.data(), k.secret.size()) + "\n";
  sodium_memzero(k.secret.data(), k.secret.size());
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    return Status::error(path + ": " + std::strerror(errno) + (errno == EEXIST ? " (a key is never overwritten)" : ""));
  }
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
  int saved = errno;
  ::close(fd);
  sodium_memzero(text.data(), text.size());
  if (!ok) return Status::error(path + ": " + std::strerror(saved));
  // The new directory entry made durable too.
  std::string dir = std::filesystem::path(path).parent_path().string();
  if (Status s = fsync_directory(dir.empty() ? "." : dir); !s.ok()) return s;
  *public_key = k.public_key;
  return {};
}

Status load_key_file(const std::string& path, NodeKey* key) {
  if (sodium_init() < 0) return Status::error("libsodium failed to initialise");
  // Checked on the open descriptor, not the path: nothing can swap the file between the check
  // and the read. O_NOFOLLOW: a symlink planted in the key's place is refused, not followed.
  // O_NONBLOCK: a fifo in the key's place must not hang the node here (it is refused below).
  int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) {
    if (errno == ELOOP) return Status::error(path + " is a symbolic link: a node key must be a file of its own");
    return Status::error("no node key at " + path + " (" + std::strerror(errno) +
                         "): create one with `fednode keygen --out DIR`, or run with --insecure");
  }
  struct stat st {};
  std::string text;
  Status checked;
  if (::fstat(fd, &st) != 0) {
    checked = Status::error(path + ": " + std::strerror(errno));
  } else if (!S_ISREG(st.st_mode)) {
    checked = Status::error(path + " is not a regular file");
  } else if (::geteuid() != 0 && st.st_uid != ::geteuid() && st.st_uid != 0) {
    // (root may use a service user's key, as `fednode ctl` run by root on a packaged node does)
    checked = Status::error(path + " belongs to user " + std::to_string(st.st_uid) + ", not to this node's user (" +
                            std::to_string(::geteuid()) + ") or root: a node key must be its own user's");
  } else if (st.st_mode & (S_IRWXG | S_IRWXO)) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    checked = Status::error(path + " is accessible to group or others (mode " + mode +
                            "): a node key must be the owner's alone (chmod 600)");
  } else if (!read_all(fd, &text, 4096)) {
    checked = Status::error(path + ": " + std::strerror(errno));
  }
  ::close(fd);
  if (!checked.ok()) {
    sodium_memzero(text.data(), text.size());
    return checked;
  }
  std::istringstream in(text);
  std::string header, word, pub, sec;
  std::getline(in, header);
  if (header != kHeader) return Status::error(path + ": not a fednode node key (first line '" + header + "')");
  while (in >> word) {
    if (word == "public") in >> pub;
    else if (word == "secret") in >> sec;
  }
  sodium_memzero(text.data(), text.size());
  NodeKey k;
  if (!unb64(pub, &k.public_key.bytes) || !unb64(sec, &k.secret)) {
    return Status::error(path + ": the public or secret line is not a 32-byte key in base64url");
  }
  std::array<std::uint8_t, 32> derived{};
  crypto_scalarmult_base(derived.data(), k.secret.data());
  if (derived != k.public_key.bytes) return Status::error(path + ": the public key does not belong to the secret key");
  *key = k;
  return {};
}

std::uint64_t node_id_of_key(const PublicKey& key) {
  std::uint8_t digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, key.bytes.data(), key.bytes.size());
  std::uint64_t id = 0;
  for (int i = 0; i < 8; ++i) id = (id << 8) | digest[i];
  return id == 0 ? 1 : id;
}

}  // namespace fednode::crypto
