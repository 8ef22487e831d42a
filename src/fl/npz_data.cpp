// NumPy .npz (numpy.savez / savez_compressed): a zip archive of .npy arrays. libzip reads the
// archive (stored or deflated entries, zip64, CRC checked); npy.cpp reads each array's header,
// and the data is converted a chunk at a time straight into the data set.
#include <zip.h>

#include <algorithm>
#include <filesystem>
#include <memory>

#include "fednode/fl/local_data.h"
#include "fednode/fl/npy.h"

namespace fednode::fl {
namespace {

constexpr std::size_t kChunk = 1 << 20;

struct ZipCloser {
  void operator()(zip_t* z) const { zip_discard(z); }
};
struct EntryCloser {
  void operator()(zip_file_t* f) const { zip_fclose(f); }
};
using Archive = std::unique_ptr<zip_t, ZipCloser>;

std::string zip_message(int code) {
  zip_error_t e;
  zip_error_init_with_code(&e, code);
  std::string m = zip_error_strerror(&e);
  zip_error_fini(&e);
  return m;
}

// One array of the archive, read through `on_chunk(header, bytes, count, first_index)`.
class NpzArray {
 public:
  NpzArray(zip_t* zip, std::string where, std::uint64_t archive_bytes)
      : zip_(zip), where_(std::move(where)), archive_bytes_(archive_bytes) {}

  // Whether the archive holds `name` (.npy added).
  bool open(const std::string& name) {
    entry_ = name + ".npy";
    zip_int64_t index = zip_name_locate(zip_, entry_.c_str(), 0);
    if (index < 0) return false;
    index_ = static_cast<zip_uint64_t>(index);
    return true;
  }

  Status header(NpyHeader* h) {
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(zip_, index_, 0, &st) != 0 || !(st.valid & ZIP_STAT_SIZE)) return fail("cannot read its entry");
    size_ = st.size;
    // Deflate inflates at most ~1,032:1; an entry claiming more is corrupt (or hostile), and its
    // claim must not size a buffer.
    if ((st.valid & ZIP_STAT_COMP_SIZE) && size_ / 1100 > st.comp_size + 1) return fail("claims an impossible size (corrupt)");
    // Buffers are sized up front only for what the archive can hold at a plausible ratio for
    // numbers (8:1); anything claiming more grows as its bytes actually arrive.
    presize_ = size_ <= 8 * archive_bytes_ + 4096;
    file_.reset(zip_fopen_index(zip_, index_, 0));
    if (!file_) return fail(std::string("cannot open: ") + zip_strerror(zip_));
    std::string head(12, '\0');
    if (Status s = read_exact(head.data(), std::min<std::uint64_t>(12, size_)); !s.ok()) return s;
    std::size_t total = npy_header_size(head);
    if (total == 0 || total > kNpyMaxHeader) {
      Status s = parse_npy_header(head, h);
      return fail(s.ok() ? "header length is implausible" : s.message());
    }
    if (total > size_) return fail("header runs past the entry's end");
    head.resize(total);
    if (total > 12) {
      if (Status s = read_exact(head.data() + 12, total - 12); !s.ok()) return s;
    }
    if (Status s = parse_npy_header(head, h); !s.ok()) return fail(s.message());
    if (h->data_bytes() != size_ - total) {
      return fail("shape " + shape_text(h->shape) + " of " + h->dtype() + " needs " + std::to_string(h->data_bytes()) +
                  " bytes of data, the entry holds " + std::to_string(size_ - total) + " (truncated or corrupt)");
    }
    return {};
  }

  // Calls `convert(bytes, count, first_index)` over the data, kChunk bytes (whole elements) at a time.
  template <typename Convert>
  Status data(const NpyHeader& h, Convert convert) {
    std::uint64_t left = h.elements();
    std::size_t per = std::max<std::size_t>(1, kChunk / static_cast<std::size_t>(h.item_bytes));
    std::string buf;
    std::uint64_t index = 0;
    while (left > 0) {
      std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(left, per));
      buf.resize(n * static_cast<std::size_t>(h.item_bytes));
      if (Status s = read_exact(buf.data(), buf.size()); !s.ok()) return s;
      if (Status s = convert(buf.data(), n, index); !s.ok()) return fail(s.message());
      index += n;
      left -= n;
    }
    char extra;
    if (zip_fread(file_.get(), &extra, 1) != 0) return fail("bytes after the array's data, or a corrupt entry");
    return {};
  }

  bool presize() const { return presize_; }

  // The data straight into `dst` (data_bytes() of it), with no copy between.
  Status data_into(const NpyHeader& h, char* dst) {
    if (Status s = read_exact(dst, h.data_bytes()); !s.ok()) return s;
    char extra;
    if (zip_fread(file_.get(), &extra, 1) != 0) return fail("bytes after the array's data, or a corrupt entry");
    return {};
  }

  Status fail(const std::string& what) const { return Status::error(where_ + ": " + entry_ + ": " + what); }

  static std::string shape_text(const std::vector<std::int64_t>& shape) {
    std::string s = "(";
    for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + (shape.size() == 1 ? ",)" : ")");
  }

 private:
  Status read_exact(char* dst, std::uint64_t n) {
    std::uint64_t got = 0;
    while (got < n) {
      zip_int64_t r = zip_fread(file_.get(), dst + got, n - got);
      if (r < 0) return fail(std::string("corrupt entry: ") + zip_file_strerror(file_.get()));
      if (r == 0) return fail("entry ends early (truncated)");
      got += static_cast<std::uint64_t>(r);
    }
    return {};
  }

  zip_t* zip_;
  std::string where_, entry_;
  zip_uint64_t index_ = 0;
  zip_uint64_t size_ = 0;
  std::uint64_t archive_bytes_ = 0;
  bool presize_ = false;
  std::unique_ptr<zip_file_t, EntryCloser> file_;
};

Status read_features(zip_t* zip, const std::string& where, std::uint64_t archive, const std::string& name, Dataset* d) {
  NpzArray a(zip, where, archive);
  if (!a.open(name)) return Status::error(where + ": no array '" + name + "' (an .npz needs x_train and y_train)");
  NpyHeader h;
  if (Status s = a.header(&h); !s.ok()) return s;
  if (h.shape.empty()) return a.fail("a scalar, not an array of samples (its first axis is the sample)");
  d->feature_shape.assign(h.shape.begin() + 1, h.shape.end());
  if (d->feature_shape.empty()) d->feature_shape.push_back(1);
  if (h.kind == 'u' && h.item_bytes == 1) {  // images, mostly: kept as bytes, a quarter of float32
    if (!a.presize()) {
      return a.data(h, [&](const char* p, std::size_t n, std::uint64_t) {
        d->byte_features.insert(d->byte_features.end(), p, p + n);
        return Status{};
      });
    }
    d->byte_features.resize(static_cast<std::size_t>(h.elements()));
    return a.data_into(h, reinterpret_cast<char*>(d->byte_features.data()));
  }
  if (h.kind == 'f' && h.item_bytes == 4 && a.presize()) {  // float32: read in place, then every value checked
    d->features.resize(static_cast<std::size_t>(h.elements()));
    if (Status s = a.data_into(h, reinterpret_cast<char*>(d->features.data())); !s.ok()) return s;
    const auto* bits = reinterpret_cast<const std::uint32_t*>(d->features.data());
    std::size_t n = d->features.size(), bad = n;
    std::uint32_t any = 0;
    for (std::size_t i = 0; i < n; ++i) any |= static_cast<std::uint32_t>((bits[i] & 0x7f800000u) == 0x7f800000u);
    if (any) {
      for (bad = 0; (bits[bad] & 0x7f800000u) != 0x7f800000u; ++bad) {
      }
      return a.fail("not a readable .npy array: element " + std::to_string(bad) + " is NaN or infinite");
    }
    return {};
  }
  if (a.presize()) d->features.reserve(static_cast<std::size_t>(h.elements()));
  return a.data(h, [&](const char* p, std::size_t n, std::uint64_t first) {
    return npy_to_float(h, p, n, first, &d->features);
  });
}

Status read_targets(zip_t* zip, const std::string& where, std::uint64_t archive, const std::string& name, Task task,
                    std::size_t samples, Dataset* d) {
  NpzArray a(zip, where, archive);
  if (!a.open(name)) return Status::error(where + ": no array '" + name + "'");
  NpyHeader h;
  if (Status s = a.header(&h); !s.ok()) return s;
  if (h.shape.empty() || static_cast<std::uint64_t>(h.shape[0]) != samples) {
    return a.fail("shape " + NpzArray::shape_text(h.shape) + ": its first axis must be the " + std::to_string(samples) +
                  " samples of the x array");
  }
  if (task == Task::kRegression) {
    std::uint64_t width = samples ? h.elements() / samples : 1;
    if (width == 0 || width > (1u << 20)) return a.fail("implausible number of targets per sample");
    d->target_width = static_cast<int>(width);
    d->labels.clear();
    return a.data(h, [&](const char* p, std::size_t n, std::uint64_t first) {
      return npy_to_float(h, p, n, first, &d->targets);
    });
  }
  if (h.shape.size() > 2 || (h.shape.size() == 2 && h.shape[1] != 1)) {
    return a.fail("shape " + NpzArray::shape_text(h.shape) +
                  ": classification needs one class number per sample (for targets use --task regression)");
  }
  if (h.kind == 'f') return a.fail("holds " + h.dtype() + " values: class numbers are integers (for targets use --task regression)");
  std::vector<std::int64_t> raw;
  Status s = a.data(h, [&](const char* p, std::size_t n, std::uint64_t first) { return npy_to_int(h, p, n, first, &raw); });
  if (!s.ok()) return s;
  d->labels.reserve(raw.size());
  std::int64_t top = -1;
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] < 0 || raw[i] > (1 << 24)) {
      return a.fail("label " + std::to_string(raw[i]) + " of sample " + std::to_string(i) + " is not a class number 0, 1, ...");
    }
    top = std::max(top, raw[i]);
    d->labels.push_back(static_cast<std::int32_t>(raw[i]));
  }
  d->classes = static_cast<int>(top + 1);
  return {};
}

Status read_split(zip_t* zip, const std::string& where, std::uint64_t archive, const std::string& x, const std::string& y,
                  Task task, Dataset* d) {
  *d = Dataset{};
  d->name = where;
  d->classes = 0;
  if (Status s = read_features(zip, where, archive, x, d); !s.ok()) return s;
  std::size_t per = d->feature_count();
  std::size_t samples = per ? d->feature_values() / per : 0;
  if (samples == 0) return Status::error(where + ": " + x + " holds no samples");
  return read_targets(zip, where, archive, y, task, samples, d);
}

Status read_archive(zip_t* zip, const std::string& where, std::uint64_t archive, Task task, LocalData* out) {
  // libzip reads an empty file as an empty archive.
  if (zip_get_num_entries(zip, 0) <= 0) return Status::error(where + ": not a readable .npz (zip) archive: it holds no arrays");
  if (Status s = read_split(zip, where, archive, "x_train", "y_train", task, &out->train); !s.ok()) return s;
  out->test = Dataset{};
  bool has_x = NpzArray(zip, where, archive).open("x_test");
  bool has_y = NpzArray(zip, where, archive).open("y_test");
  if (has_x != has_y) return Status::error(where + ": holds " + (has_x ? "x_test without y_test" : "y_test without x_test"));
  if (!has_x) return {};
  if (Status s = read_split(zip, where, archive, "x_test", "y_test", task, &out->test); !s.ok()) return s;
  if (out->test.feature_shape != out->train.feature_shape) {
    return Status::error(where + ": x_test's samples have shape " + NpzArray::shape_text(out->test.feature_shape) +
                         ", x_train's " + NpzArray::shape_text(out->train.feature_shape));
  }
  return {};
}

}  // namespace

Status load_npz(const std::string& path, Task task, LocalData* out) {
  int err = 0;
  Archive zip(zip_open(path.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &err));
  if (!zip) return Status::error(path + ": not a readable .npz (zip) archive: " + zip_message(err));
  std::error_code ec;
  std::uint64_t bytes = std::filesystem::file_size(path, ec);
  return read_archive(zip.get(), path, ec ? 0 : bytes, task, out);
}

Status load_npz_bytes(std::string_view bytes, const std::string& name, Task task, LocalData* out) {
  zip_error_t e;
  zip_error_init(&e);
  zip_source_t* src = zip_source_buffer_create(bytes.data(), bytes.size(), 0, &e);
  if (!src) {
    zip_error_fini(&e);
    return Status::error(name + ": cannot read");
  }
  Archive zip(zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &e));
  if (!zip) {
    std::string m = zip_error_strerror(&e);
    zip_source_free(src);
    zip_error_fini(&e);
    return Status::error(name + ": not a readable .npz (zip) archive: " + m);
  }
  zip_error_fini(&e);
  return read_archive(zip.get(), name, bytes.size(), task, out);
}

}  // namespace fednode::fl
