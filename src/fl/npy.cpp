#include "fednode/fl/npy.h"

#include "fednode/util/little_endian.h"

#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>


namespace fednode::fl {
namespace {

constexpr std::string_view kMagic("\x93NUMPY", 6);


// A cursor over the header's dict literal; every read checks the end first.
class DictReader {
 public:
  explicit DictReader(std::string_view s) : s_(s) {}
  void skip_space() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n')) ++i_;
  }
  bool eat(char c) {
    skip_space();
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  bool quoted(std::string* out) {
    skip_space();
    if (i_ >= s_.size() || (s_[i_] != '\'' && s_[i_] != '"')) return false;
    char q = s_[i_++];
    std::size_t end = s_.find(q, i_);
    if (end == std::string_view::npos) return false;
    *out = std::string(s_.substr(i_, end - i_));
    i_ = end + 1;
    return true;
  }
  bool word(std::string_view w) {
    skip_space();
    if (s_.substr(i_, w.size()) != w) return false;
    i_ += w.size();
    return true;
  }
  bool integer(std::int64_t* out) {
    skip_space();
    std::size_t start = i_;
    std::int64_t v = 0;
    while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') {
      if (v > (std::numeric_limits<std::int64_t>::max() - 9) / 10) return false;
      v = v * 10 + (s_[i_++] - '0');
    }
    if (i_ < s_.size() && s_[i_] == 'L') ++i_;  // Python 2's long suffix, written by old numpy
    *out = v;
    return i_ > start;
  }
  bool at_end() {
    skip_space();
    return i_ == s_.size();
  }

 private:
  std::string_view s_;
  std::size_t i_ = 0;
};

Status bad(const std::string& what) { return Status::error("not a readable .npy array: " + what); }

Status parse_descr(const std::string& d, NpyHeader* out) {
  if (d.size() < 3) return bad("dtype '" + d + "'");
  char order = d[0], kind = d[1];
  std::string digits = d.substr(2);
  if (digits.find_first_not_of("0123456789") != std::string::npos) {
    return bad("dtype '" + d + "' (structured and string dtypes are not data sets)");
  }
  int bytes = 0;
  auto parsed = std::from_chars(digits.data(), digits.data() + digits.size(), bytes);
  if (parsed.ec != std::errc() || parsed.ptr != digits.data() + digits.size()) return bad("dtype '" + d + "'");
  bool known = (kind == 'f' && (bytes == 4 || bytes == 8)) ||
               ((kind == 'i' || kind == 'u') && (bytes == 1 || bytes == 2 || bytes == 4 || bytes == 8)) ||
               (kind == 'b' && bytes == 1);
  if (!known) return bad("dtype '" + d + "' (expected float32/64, int8-64, uint8-64 or bool)");
  if (order == '>' && bytes > 1) return bad("dtype '" + d + "' is big-endian (save it with .astype('<" + d.substr(1) + "'))");
  if (order != '<' && order != '|' && order != '=' && !(order == '>' && bytes == 1)) return bad("dtype '" + d + "'");
  out->kind = kind;
  out->item_bytes = bytes;
  return {};
}

template <typename T>
T load(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof v);  // the host is little-endian (checked where the project builds)
  return v;
}

// The element at `p` as a double.
double element(const NpyHeader& h, const char* p) {
  switch (h.kind) {
    case 'f': return h.item_bytes == 4 ? load<float>(p) : load<double>(p);
    case 'b': return *p ? 1.0 : 0.0;
    case 'u':
      switch (h.item_bytes) {
        case 1: return load<std::uint8_t>(p);
        case 2: return load<std::uint16_t>(p);
        case 4: return load<std::uint32_t>(p);
        default: return static_cast<double>(load<std::uint64_t>(p));
      }
    default:
      switch (h.item_bytes) {
        case 1: return load<std::int8_t>(p);
        case 2: return load<std::int16_t>(p);
        case 4: return load<std::int32_t>(p);
        default: return static_cast<double>(load<std::int64_t>(p));
      }
  }
}

}  // namespace

std::uint64_t NpyHeader::elements() const {
  std::uint64_t n = 1;
  for (auto d : shape) n *= static_cast<std::uint64_t>(d);
  return n;
}

std::string NpyHeader::dtype() const {
  switch (kind) {
    case 'f': return "float" + std::to_string(item_bytes * 8);
    case 'i': return "int" + std::to_string(item_bytes * 8);
    case 'u': return "uint" + std::to_string(item_bytes * 8);
    default: return "bool";
  }
}

std::size_t npy_header_size(std::string_view prefix) {
  if (prefix.size() < 10 || prefix.substr(0, 6) != kMagic) return 0;
  auto major = static_cast<unsigned char>(prefix[6]);
  LeReader length(prefix.substr(8));
  if (major == 1) {
    std::uint16_t n = 0;
    length.get(&n);
    return 10 + std::size_t{n};
  }
  std::uint32_t n32 = 0;
  if (!length.get(&n32)) return 0;
  std::uint64_t n = 12 + static_cast<std::uint64_t>(n32);
  return static_cast<std::size_t>(std::min<std::uint64_t>(n, kNpyMaxHeader + 1));
}

Status parse_npy_header(std::string_view bytes, NpyHeader* out) {
  *out = NpyHeader{};
  if (bytes.size() < 10 || bytes.substr(0, 6) != kMagic) return bad("no \\x93NUMPY magic at the start");
  auto major = static_cast<unsigned char>(bytes[6]);
  if (major < 1 || major > 3) return bad("format version " + std::to_string(major) + " (1 to 3 are known)");
  std::size_t total = npy_header_size(bytes);
  if (total == 0 || total > kNpyMaxHeader) return bad("header longer than " + std::to_string(kNpyMaxHeader) + " bytes");
  if (bytes.size() < total) return bad("header cut short (" + std::to_string(bytes.size()) + " of " + std::to_string(total) + " bytes)");
  DictReader r(bytes.substr(major == 1 ? 10 : 12, total - (major == 1 ? 10 : 12)));
  bool have_descr = false, have_order = false, have_shape = false;
  if (!r.eat('{')) return bad("header is not a dict");
  while (!r.eat('}')) {
    std::string key;
    if (!r.quoted(&key) || !r.eat(':')) return bad("header dict is malformed");
    if (key == "descr") {
      std::string d;
      if (!r.quoted(&d)) return bad("'descr' is not a simple dtype string (structured arrays are not data sets)");
      if (Status s = parse_descr(d, out); !s.ok()) return s;
      have_descr = true;
    } else if (key == "fortran_order") {
      if (r.word("True")) return bad("array is in Fortran order (save it with numpy.ascontiguousarray)");
      if (!r.word("False")) return bad("'fortran_order' is neither True nor False");
      have_order = true;
    } else if (key == "shape") {
      if (!r.eat('(')) return bad("'shape' is not a tuple");
      for (;;) {
        if (r.eat(')')) break;
        std::int64_t d;
        if (!r.integer(&d)) return bad("'shape' holds something other than non-negative integers");
        if (out->shape.size() == kNpyMaxRank) return bad("more than " + std::to_string(kNpyMaxRank) + " dimensions");
        out->shape.push_back(d);
        if (r.eat(',')) continue;
        if (r.eat(')')) break;
        return bad("'shape' is malformed");
      }
      have_shape = true;
    } else {
      return bad("unknown header key '" + key + "'");
    }
    if (!r.eat(',')) {
      if (!r.eat('}')) return bad("header dict is malformed");
      break;
    }
  }
  if (!r.at_end()) return bad("text after the header dict");
  if (!have_descr || !have_order || !have_shape) return bad("header lacks 'descr', 'fortran_order' or 'shape'");
  // No product of dimensions may overflow 2^62 bytes: a header cannot claim an impossible size.
  std::uint64_t n = static_cast<std::uint64_t>(out->item_bytes);
  for (auto d : out->shape) {
    if (d != 0 && n > (std::uint64_t{1} << 62) / static_cast<std::uint64_t>(d)) return bad("shape too large");
    n *= static_cast<std::uint64_t>(d);
  }
  out->header_bytes = total;
  return {};
}

Status npy_to_float(const NpyHeader& h, const char* data, std::size_t count, std::uint64_t first_index,
                    std::vector<float>* out) {
  out->reserve(out->size() + count);
  if (h.kind == 'f' && h.item_bytes == 4) {
    std::size_t at = out->size();
    out->resize(at + count);
    std::memcpy(out->data() + at, data, count * 4);
    for (std::size_t i = 0; i < count; ++i) {
      if (!std::isfinite((*out)[at + i])) return bad("element " + std::to_string(first_index + i) + " is NaN or infinite");
    }
    return {};
  }
  for (std::size_t i = 0; i < count; ++i) {
    double v = element(h, data + i * static_cast<std::size_t>(h.item_bytes));
    if (!std::isfinite(v) || std::fabs(v) > std::numeric_limits<float>::max()) {
      return bad("element " + std::to_string(first_index + i) + " is NaN, infinite or beyond float32");
    }
    out->push_back(static_cast<float>(v));
  }
  return {};
}

Status npy_to_int(const NpyHeader& h, const char* data, std::size_t count, std::uint64_t first_index,
                  std::vector<std::int64_t>* out) {
  out->reserve(out->size() + count);
  for (std::size_t i = 0; i < count; ++i) {
    const char* p = data + i * static_cast<std::size_t>(h.item_bytes);
    if (h.kind == 'u' && h.item_bytes == 8 && load<std::uint64_t>(p) > std::numeric_limits<std::int64_t>::max()) {
      return bad("element " + std::to_string(first_index + i) + " does not fit int64");
    }
    if (h.kind == 'i' && h.item_bytes == 8) {
      out->push_back(load<std::int64_t>(p));
      continue;
    }
    if (h.kind == 'u' && h.item_bytes == 8) {
      out->push_back(static_cast<std::int64_t>(load<std::uint64_t>(p)));
      continue;
    }
    double v = element(h, p);
    if (h.kind == 'f' && (!std::isfinite(v) || v != std::floor(v) || std::fabs(v) > 9.0e15)) {
      return bad("element " + std::to_string(first_index + i) + " (" + std::to_string(v) + ") is not a whole number");
    }
    out->push_back(static_cast<std::int64_t>(v));
  }
  return {};
}

}  // namespace fednode::fl
