// Image folders (torchvision's ImageFolder layout): ROOT/train/<class>/*.png|jpg|jpeg and
// optionally ROOT/test/<class>/... PNG is decoded by libpng, JPEG by libjpeg-turbo (both fuzzed
// continuously by OSS-Fuzz; Debian's libstb decoder crashed on a malformed JPEG within a minute of
// our fuzz target, so it only resizes: arithmetic on buffers we made). Kept as bytes, normalised
// when batched.
#include <png.h>
#include <stb_image_resize.h>
#include <turbojpeg.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "fednode/fl/local_data.h"
#include "fednode/util/file_io.h"

namespace fednode::fl {
namespace {

namespace fs = std::filesystem;

constexpr long kMaxPixels = 1L << 26;  // a decoded image of more is refused (a decompression bomb)

bool is_image(const fs::path& p) {
  std::string e = p.extension().string();
  std::transform(e.begin(), e.end(), e.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return e == ".png" || e == ".jpg" || e == ".jpeg";
}

bool class_number(const std::string& name, int* out) {
  auto r = std::from_chars(name.data(), name.data() + name.size(), *out);
  return r.ec == std::errc() && r.ptr == name.data() + name.size() && *out >= 0 && *out < (1 << 24);
}

// Folder name -> class number.
Status class_map(const std::string& root, std::map<std::string, int>* out) {
  std::error_code ec;
  if (fs::exists(root + "/classes.txt", ec)) {
    std::ifstream in(root + "/classes.txt");
    std::string line;
    int n = 0;
    while (std::getline(in, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.empty()) continue;
      if (!out->emplace(line, n++).second) return Status::error(root + "/classes.txt: class '" + line + "' listed twice");
    }
    if (out->empty()) return Status::error(root + "/classes.txt: names no class");
    return {};
  }
  std::set<std::string> names;
  for (const char* split : {"train", "test"}) {
    if (!fs::is_directory(root + "/" + split, ec)) continue;
    for (const auto& d : fs::directory_iterator(root + "/" + split, ec)) {
      if (d.is_directory(ec)) names.insert(d.path().filename().string());
    }
  }
  // Sorted names would number the classes differently on a party that lacks one (label skew):
  // the numbering must come from something every party shares.
  for (const auto& n : names) {
    int v;
    if (!class_number(n, &v)) {
      return Status::error(root + ": class folder '" + n + "' is not a class number; name the classes in " + root +
                           "/classes.txt (one a line, the same file on every party) or name the folders 0, 1, ...");
    }
    (*out)[n] = v;
  }
  return {};
}

Status load_split(const std::string& root, const std::string& split, const DataOptions& o,
                  const std::map<std::string, int>& classes, Dataset* d) {
  *d = Dataset{};
  d->name = root + "/" + split;
  d->channels = o.image_channels;
  d->classes = 0;
  std::error_code ec;
  std::vector<std::pair<fs::path, int>> files;
  for (const auto& dir : fs::directory_iterator(root + "/" + split, ec)) {
    if (!dir.is_directory(ec)) continue;
    std::string name = dir.path().filename().string();
    auto c = classes.find(name);
    if (c == classes.end()) return Status::error(dir.path().string() + ": class '" + name + "' is not in " + root + "/classes.txt");
    for (const auto& f : fs::directory_iterator(dir.path(), ec)) {
      if (f.is_regular_file(ec) && is_image(f.path())) files.emplace_back(f.path(), c->second);
    }
  }
  if (ec) return Status::error(root + "/" + split + ": " + ec.message());
  std::sort(files.begin(), files.end());  // the same order on every read
  if (files.empty()) return Status::error(root + "/" + split + ": no images (.png, .jpg, .jpeg) in its class folders");
  int top = -1;
  for (const auto& [path, label] : files) {
    std::string bytes;
    if (Status s = read_file(path.string(), &bytes); !s.ok()) return s;
    int w = 0, h = 0;
    std::vector<std::uint8_t> chw;
    if (Status s = decode_image(bytes, path.string(), o.image_channels, o.image_size, &w, &h, &chw); !s.ok()) return s;
    if (d->pixels.empty()) {
      d->width = w;
      d->height = h;
    } else if (w != d->width || h != d->height) {
      return Status::error(path.string() + ": " + std::to_string(w) + "x" + std::to_string(h) + " pixels, the first image " +
                           std::to_string(d->width) + "x" + std::to_string(d->height) + " (pass --image-size N to resize all)");
    }
    d->pixels.insert(d->pixels.end(), chw.begin(), chw.end());
    d->labels.push_back(label);
    top = std::max(top, label);
  }
  d->classes = top + 1;
  if (!o.normalize.empty()) {
    d->norm_mean.assign(o.normalize.begin(), o.normalize.begin() + o.image_channels);
    d->norm_std.assign(o.normalize.begin() + o.image_channels, o.normalize.end());
  } else {
    d->norm_mean.assign(static_cast<std::size_t>(o.image_channels), 0.0f);
    d->norm_std.assign(static_cast<std::size_t>(o.image_channels), 1.0f);
  }
  return {};
}

}  // namespace

namespace {

bool too_large(std::uint64_t w, std::uint64_t h) { return w == 0 || h == 0 || w * h > static_cast<std::uint64_t>(kMaxPixels); }

// PNG through libpng's simplified API: any bit depth, palette or alpha, to 8-bit grey or RGB.
Status decode_png(std::string_view bytes, const std::string& name, int channels, int* w, int* h,
                  std::vector<std::uint8_t>* hwc) {
  png_image img{};
  img.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&img, bytes.data(), bytes.size())) {
    std::string why = img.message;
    png_image_free(&img);
    return Status::error(name + ": not a readable PNG (" + why + ")");
  }
  if (too_large(img.width, img.height)) {
    png_image_free(&img);
    return Status::error(name + ": " + std::to_string(img.width) + "x" + std::to_string(img.height) +
                         " pixels is beyond what a data set image may be");
  }
  img.format = channels == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
  hwc->assign(PNG_IMAGE_SIZE(img), 0);
  if (!png_image_finish_read(&img, nullptr, hwc->data(), 0, nullptr)) {
    std::string why = img.message;
    png_image_free(&img);
    return Status::error(name + ": cannot decode the PNG (" + why + ")");
  }
  *w = static_cast<int>(img.width);
  *h = static_cast<int>(img.height);
  return {};
}

// JPEG through TurboJPEG; warnings (a truncated or corrupt stream) are errors.
Status decode_jpeg(std::string_view bytes, const std::string& name, int channels, int* w, int* h,
                   std::vector<std::uint8_t>* hwc) {
  tjhandle tj = tjInitDecompress();
  if (!tj) return Status::error(name + ": cannot start the JPEG decoder");
  auto* data = reinterpret_cast<const unsigned char*>(bytes.data());
  auto size = static_cast<unsigned long>(bytes.size());
  int subsampling = 0, colorspace = 0;
  Status s;
  if (tjDecompressHeader3(tj, data, size, w, h, &subsampling, &colorspace) != 0) {
    s = Status::error(name + ": not a readable JPEG (" + tjGetErrorStr2(tj) + ")");
  } else if (too_large(static_cast<std::uint64_t>(*w), static_cast<std::uint64_t>(*h))) {
    s = Status::error(name + ": " + std::to_string(*w) + "x" + std::to_string(*h) + " pixels is beyond what a data set image may be");
  } else {
    hwc->assign(static_cast<std::size_t>(*w) * *h * channels, 0);
    if (tjDecompress2(tj, data, size, hwc->data(), *w, 0, *h, channels == 1 ? TJPF_GRAY : TJPF_RGB,
                      TJFLAG_STOPONWARNING | TJFLAG_LIMITSCANS) != 0) {
      s = Status::error(name + ": cannot decode the JPEG (" + tjGetErrorStr2(tj) + ")");
    }
  }
  tjDestroy(tj);
  return s;
}

}  // namespace

Status decode_image(std::string_view bytes, const std::string& name, int channels, int size, int* width, int* height,
                    std::vector<std::uint8_t>* chw) {
  if (channels != 1 && channels != 3) return Status::error(name + ": images are read with 1 or 3 channels");
  if (bytes.empty() || bytes.size() > (1u << 30)) return Status::error(name + ": empty or larger than 1 GiB");
  static constexpr std::string_view kPng("\x89PNG", 4), kJpeg("\xff\xd8", 2);
  std::vector<std::uint8_t> hwc;
  int w = 0, h = 0;
  Status s = bytes.substr(0, 4) == kPng    ? decode_png(bytes, name, channels, &w, &h, &hwc)
             : bytes.substr(0, 2) == kJpeg ? decode_jpeg(bytes, name, channels, &w, &h, &hwc)
                                           : Status::error(name + ": not a PNG or JPEG image");
  if (!s.ok()) return s;
  if (size > 0 && (w != size || h != size)) {
    std::vector<std::uint8_t> resized(static_cast<std::size_t>(size) * size * channels);
    if (!stbir_resize_uint8(hwc.data(), w, h, 0, resized.data(), size, size, 0, channels)) {
      return Status::error(name + ": cannot resize to " + std::to_string(size) + "x" + std::to_string(size));
    }
    hwc = std::move(resized);
    w = h = size;
  }
  chw->assign(hwc.size(), 0);
  std::size_t plane = static_cast<std::size_t>(w) * h;
  for (std::size_t i = 0; i < plane; ++i) {
    for (int c = 0; c < channels; ++c) (*chw)[static_cast<std::size_t>(c) * plane + i] = hwc[i * channels + static_cast<std::size_t>(c)];
  }
  *width = w;
  *height = h;
  return {};
}

Status load_image_folder(const std::string& root, const DataOptions& o, LocalData* out) {
  std::error_code ec;
  if (!fs::is_directory(root + "/train", ec)) {
    return Status::error(root + ": an image folder needs train/<class>/*.png|jpg (and optionally test/<class>/...)");
  }
  if (!o.normalize.empty() && o.normalize.size() != 2 * static_cast<std::size_t>(o.image_channels)) {
    return Status::error("--normalize needs " + std::to_string(o.image_channels) + " means then " +
                         std::to_string(o.image_channels) + " standard deviations");
  }
  for (std::size_t i = o.normalize.size() / 2; i < o.normalize.size(); ++i) {
    if (!(o.normalize[i] > 0)) return Status::error("--normalize: standard deviations must be positive");
  }
  std::map<std::string, int> classes;
  if (Status s = class_map(root, &classes); !s.ok()) return s;
  if (Status s = load_split(root, "train", o, classes, &out->train); !s.ok()) return s;
  if (fs::is_directory(root + "/test", ec)) {
    if (Status s = load_split(root, "test", o, classes, &out->test); !s.ok()) return s;
    if (out->test.width != out->train.width || out->test.height != out->train.height) {
      return Status::error(root + "/test: " + std::to_string(out->test.width) + "x" + std::to_string(out->test.height) +
                           " images, train/ has " + std::to_string(out->train.width) + "x" + std::to_string(out->train.height) +
                           " (pass --image-size N)");
    }
  }
  return {};
}

}  // namespace fednode::fl
