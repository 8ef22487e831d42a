#pragma once
// Little-endian integers, as the model and update blobs store them: a writer, and a reader over
// a byte string that reports running out instead of reading past the end.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace fednode {

template <typename T>
void put_le(std::string& out, T v) {
  for (std::size_t i = 0; i < sizeof(T); ++i) {
    out.push_back(static_cast<char>((static_cast<std::uint64_t>(v) >> (8 * i)) & 0xff));
  }
}

class LeReader {
 public:
  explicit LeReader(std::string_view b) : bytes_(b) {}
  template <typename T>
  bool get(T* v) {
    if (bytes_.size() - pos_ < sizeof(T)) return false;
    std::uint64_t x = 0;
    for (std::size_t i = 0; i < sizeof(T); ++i) {
      x |= static_cast<std::uint64_t>(static_cast<unsigned char>(bytes_[pos_ + i])) << (8 * i);
    }
    *v = static_cast<T>(x);
    pos_ += sizeof(T);
    return true;
  }
  bool take(std::size_t n, std::string_view* out) {
    if (bytes_.size() - pos_ < n) return false;
    *out = bytes_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  std::size_t pos() const { return pos_; }
  std::size_t size() const { return bytes_.size(); }
  bool done() const { return pos_ == bytes_.size(); }

 private:
  std::string_view bytes_;
  std::size_t pos_ = 0;
};

}  // namespace fednode
