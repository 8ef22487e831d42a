// A party's own data: the .npy header reader, .npz archives (made here with libzip, and by
// NumPy itself where /usr/bin/python3 has it), CSV, the deterministic test split, and every kind
// of bad file, each refused with one line naming the file and what is wrong.
#include <gtest/gtest.h>
#include <zip.h>

#include <cstdlib>
#include <cstring>
#include <fstream>

#include "../storage/temp_dir.h"
#include "fednode/fl/local_data.h"
#include "fednode/fl/npy.h"
#include "fednode/util/file_io.h"

namespace fednode::fl {
namespace {

// A .npy file: magic, version 1.0, the header dict padded to 64 bytes, then `data`.
std::string npy(const std::string& descr, const std::string& shape, const std::string& data, bool fortran = false) {
  std::string dict = "{'descr': '" + descr + "', 'fortran_order': " + (fortran ? "True" : "False") +
                     ", 'shape': " + shape + ", }";
  std::size_t total = 10 + dict.size() + 1;
  dict += std::string((64 - total % 64) % 64, ' ') + "\n";
  std::string out("\x93NUMPY\x01\x00", 8);
  out.push_back(static_cast<char>(dict.size() & 0xff));
  out.push_back(static_cast<char>(dict.size() >> 8));
  return out + dict + data;
}

template <typename T>
std::string bytes_of(const std::vector<T>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

// An .npz (zip) of the named .npy entries, stored or deflated.
std::string npz(const std::vector<std::pair<std::string, std::string>>& entries, bool deflate = false) {
  zip_error_t e;
  zip_error_init(&e);
  zip_source_t* src = zip_source_buffer_create(nullptr, 0, 0, &e);
  zip_source_keep(src);
  zip_t* z = zip_open_from_source(src, ZIP_TRUNCATE, &e);
  for (const auto& [name, data] : entries) {
    auto* copy = static_cast<char*>(std::malloc(data.size() + 1));
    std::memcpy(copy, data.data(), data.size());
    zip_source_t* s = zip_source_buffer(z, copy, data.size(), 1);
    zip_int64_t i = zip_file_add(z, (name + ".npy").c_str(), s, ZIP_FL_OVERWRITE);
    zip_set_file_compression(z, static_cast<zip_uint64_t>(i), deflate ? ZIP_CM_DEFLATE : ZIP_CM_STORE, 0);
  }
  zip_close(z);
  zip_source_open(src);
  zip_source_seek(src, 0, SEEK_END);
  zip_int64_t size = zip_source_tell(src);
  zip_source_seek(src, 0, SEEK_SET);
  std::string out(static_cast<std::size_t>(size), '\0');
  zip_source_read(src, out.data(), static_cast<zip_uint64_t>(size));
  zip_source_close(src);
  zip_source_free(src);
  zip_error_fini(&e);
  return out;
}

// Four samples of 2x3 float32 features, labels 0-2.
std::vector<std::pair<std::string, std::string>> small_set() {
  std::vector<float> x(24);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i) / 4;
  return {{"x_train", npy("<f4", "(4, 2, 3)", bytes_of(x))},
          {"y_train", npy("<i8", "(4,)", bytes_of(std::vector<std::int64_t>{0, 2, 1, 2}))}};
}

Status load(const std::string& bytes, LocalData* out, Task task = Task::kClassification) {
  return load_npz_bytes(bytes, "party.npz", task, out);
}

TEST(NpyHeader, ReadsWhatNumPyWrites) {
  NpyHeader h;
  ASSERT_TRUE(parse_npy_header(npy("<f8", "(3, 4)", ""), &h).ok());
  EXPECT_EQ(h.kind, 'f');
  EXPECT_EQ(h.item_bytes, 8);
  EXPECT_EQ(h.shape, (std::vector<std::int64_t>{3, 4}));
  EXPECT_EQ(h.header_bytes % 64, 0u);
  EXPECT_EQ(h.data_bytes(), 96u);
  ASSERT_TRUE(parse_npy_header(npy("|u1", "(5,)", ""), &h).ok());
  EXPECT_EQ(h.dtype(), "uint8");
  ASSERT_TRUE(parse_npy_header(npy("<i8", "()", ""), &h).ok());
  EXPECT_TRUE(h.shape.empty());
}

TEST(NpyHeader, RefusesWhatIsNotAPlainArray) {
  struct Case {
    std::string bytes, expect;
  };
  std::vector<Case> cases = {
      {"PK\x03\x04 not npy at all", "magic"},
      {npy(">f4", "(3,)", ""), "big-endian"},
      {npy("<c8", "(3,)", ""), "dtype"},
      {npy("<U5", "(3,)", ""), "dtype"},
      {npy("<f99999999999999999999", "(3,)", ""), "dtype"},  // found by libFuzzer: std::stoi threw
      {npy("<f4", "(3,)", "", true), "Fortran"},
      {npy("<f4", "(3, -1)", ""), "shape"},
      {npy("<f4", "(99999999999, 99999999999)", ""), "too large"},
      {npy("<f4", "(1,2,3,4,5,6,7,8,9)", ""), "dimensions"},
      {npy("<f4", "[3]", ""), "tuple"},
      {npy("<f4", "(3,)", "").substr(0, 30), "cut short"},
  };
  for (const auto& c : cases) {
    NpyHeader h;
    Status s = parse_npy_header(c.bytes, &h);
    EXPECT_FALSE(s.ok()) << c.expect;
    EXPECT_NE(s.message().find(c.expect), std::string::npos) << s.message();
  }
}

TEST(NpzData, ReadsFeaturesLabelsAndShapes) {
  LocalData d;
  for (bool deflate : {false, true}) {
    ASSERT_TRUE(load(npz(small_set(), deflate), &d).ok());
    EXPECT_EQ(d.train.size(), 4u);
    EXPECT_EQ(d.train.feature_shape, (std::vector<std::int64_t>{2, 3}));
    EXPECT_FLOAT_EQ(d.train.features[7], 7.0f / 4);
    EXPECT_EQ(d.train.labels, (std::vector<std::int32_t>{0, 2, 1, 2}));
    EXPECT_EQ(d.train.classes, 3);
    EXPECT_EQ(d.test.size(), 0u) << "no x_test: no test split";
  }
}

TEST(NpzData, ConvertsEveryDtypeAndReadsATestSplit) {
  auto set = small_set();
  set.push_back({"x_test", npy("|u1", "(2, 2, 3)", std::string(12, '\x07'))});
  set.push_back({"y_test", npy("<i4", "(2, 1)", bytes_of(std::vector<std::int32_t>{1, 0}))});
  LocalData d;
  ASSERT_TRUE(load(npz(set), &d).ok());
  EXPECT_EQ(d.test.size(), 2u);
  EXPECT_TRUE(d.test.features.empty()) << "uint8 samples stay bytes";
  EXPECT_EQ(d.test.byte_features[5], 7);
  EXPECT_EQ(d.test.labels, (std::vector<std::int32_t>{1, 0}));
}

TEST(NpzData, RegressionTargetsAreFloatsOfAnyWidth) {
  auto set = small_set();
  set[1] = {"y_train", npy("<f8", "(4, 2)", bytes_of(std::vector<double>{0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4}))};
  LocalData d;
  ASSERT_TRUE(load(npz(set), &d, Task::kRegression).ok());
  EXPECT_TRUE(d.train.regression());
  EXPECT_EQ(d.train.target_width, 2);
  EXPECT_EQ(d.train.size(), 4u);
  EXPECT_FLOAT_EQ(d.train.targets[7], 4.0f);
  Status s = load(npz(set), &d, Task::kClassification);
  EXPECT_NE(s.message().find("--task regression"), std::string::npos) << s.message();
}

TEST(NpzData, EveryBadFileGetsOneLineNamingItAndWhatIsWrong) {
  auto base = small_set();
  auto with = [&](std::size_t i, std::string bytes) {
    auto s = base;
    s[i].second = std::move(bytes);
    return npz(s);
  };
  std::string good = npz(base);
  std::vector<float> nan_x(24, 1.0f);
  nan_x[13] = std::nanf("");
  struct Case {
    std::string bytes, expect;
  };
  std::vector<Case> cases = {
      {"", "not a readable .npz"},
      {"PK\x05\x06 this is no zip", "not a readable .npz"},
      {good.substr(0, good.size() / 2), "not a readable .npz"},
      {npz({base[0]}), "no array 'y_train'"},
      {npz({base[1]}), "no array 'x_train'"},
      {with(0, npy("<f4", "(4, 2, 3)", std::string(40, '\0'))), "truncated"},
      {with(0, npy("<f4", "(4, 2, 3)", bytes_of(nan_x))), "element 13 is NaN"},
      {with(1, npy("<i8", "(3,)", bytes_of(std::vector<std::int64_t>{0, 1, 2}))), "first axis must be the 4 samples"},
      {with(1, npy("<i8", "(4,)", bytes_of(std::vector<std::int64_t>{0, -1, 1, 2}))), "label -1 of sample 1"},
      {with(1, npy("<f4", "(4,)", bytes_of(std::vector<float>{0, 1, 1, 2}))), "class numbers are integers"},
      {with(0, npy("<f4", "()", bytes_of(std::vector<float>{1}))), "scalar"},
      {with(0, npy("<f4", "(0, 3)", "")), "no samples"},
  };
  for (const auto& c : cases) {
    LocalData d;
    Status s = load(c.bytes, &d);
    ASSERT_FALSE(s.ok()) << c.expect;
    EXPECT_EQ(s.message().rfind("party.npz", 0), 0u) << s.message();
    EXPECT_NE(s.message().find(c.expect), std::string::npos) << s.message();
    EXPECT_EQ(s.message().find('\n'), std::string::npos) << "one line: " << s.message();
  }
  // A corrupt byte inside a deflated entry: the CRC (or inflate) catches it.
  std::string deflated = npz(base, true);
  deflated[deflated.size() / 3] ^= 0x5a;
  LocalData d;
  EXPECT_FALSE(load(deflated, &d).ok());
}

TEST(CsvData, ReadsAHeaderRowAndALabelColumnByName) {
  Dataset d;
  ASSERT_TRUE(load_csv_text("a,label,\"b, quoted\"\n1.5,2,3\n-4,0,5e-1\n\n", "p.csv", Task::kClassification, "label", &d).ok());
  EXPECT_EQ(d.size(), 2u);
  EXPECT_EQ(d.feature_shape, (std::vector<std::int64_t>{2}));
  EXPECT_EQ(d.features, (std::vector<float>{1.5f, 3, -4, 0.5f}));
  EXPECT_EQ(d.labels, (std::vector<std::int32_t>{2, 0}));
  EXPECT_EQ(d.classes, 3);
  ASSERT_TRUE(load_csv_text("x,y\r\n1,0.25\r\n2,0.5\r\n", "p.csv", Task::kRegression, "", &d).ok());
  EXPECT_EQ(d.targets, (std::vector<float>{0.25f, 0.5f})) << "the last column by default";
}

TEST(CsvData, EveryBadRowIsNamed) {
  struct Case {
    std::string text, label, expect;
  };
  std::vector<Case> cases = {
      {"", "", "empty file"},
      {"a,b\n", "", "no samples"},
      {"a,b\n1,2\n", "c", "no column 'c'"},
      {"a,b\n1,2\n3\n", "", "row 3 has 1 fields"},
      {"a,b\n1,2\nx,1\n", "", "row 3, column 'a': 'x' is not a finite number"},
      {"a,b\n1,2\nnan,1\n", "", "row 3, column 'a'"},
      {"a,b\n1,2\n1,2.5\n", "", "row 3, column 'b': '2.5' is not a class number"},
      {"a,b\n1,2\n1,-1\n", "", "is not a class number"},
      {"a,b\n\"1,2\n", "", "not closed"},
      {"label\n1\n", "", "at least one feature"},
  };
  for (const auto& c : cases) {
    Dataset d;
    Status s = load_csv_text(c.text, "p.csv", Task::kClassification, c.label, &d);
    ASSERT_FALSE(s.ok()) << c.expect;
    EXPECT_NE(s.message().find(c.expect), std::string::npos) << s.message();
    EXPECT_EQ(s.message().rfind("p.csv", 0), 0u) << s.message();
  }
}

TEST(LocalData, TestFractionSplitsTheSameWayEveryTime) {
  testing::TempDir dir;
  std::string text = "f,label\n";
  for (int i = 0; i < 100; ++i) text += std::to_string(i) + "," + std::to_string(i % 3) + "\n";
  std::ofstream(dir.sub("p.csv")) << text;
  DataOptions o;
  o.test_fraction = 0.2;
  o.seed = 7;
  LocalData a, b;
  ASSERT_TRUE(load_local_data(dir.sub("p.csv"), o, &a).ok());
  ASSERT_TRUE(load_local_data(dir.sub("p.csv"), o, &b).ok());
  EXPECT_EQ(a.train.size(), 80u);
  EXPECT_EQ(a.test.size(), 20u);
  EXPECT_EQ(a.test.features, b.test.features);
  std::vector<float> all = a.train.features;
  all.insert(all.end(), a.test.features.begin(), a.test.features.end());
  std::sort(all.begin(), all.end());
  for (int i = 0; i < 100; ++i) ASSERT_EQ(all[static_cast<std::size_t>(i)], static_cast<float>(i)) << "every sample once";
  o.test_fraction = 1.5;
  EXPECT_FALSE(load_local_data(dir.sub("p.csv"), o, &a).ok());
}

TEST(LocalData, FormatComesFromThePathOrIsAsked) {
  testing::TempDir dir;
  std::ofstream(dir.sub("data.bin")) << "x";
  LocalData d;
  Status s = load_local_data(dir.sub("data.bin"), {}, &d);
  EXPECT_NE(s.message().find("--data-format"), std::string::npos) << s.message();
  s = load_local_data(dir.sub("missing.npz"), {}, &d);
  EXPECT_NE(s.message().find("no such file"), std::string::npos) << s.message();
  EXPECT_EQ(detect_data_format("a/b.npz"), "npz");
  EXPECT_EQ(detect_data_format("a/b.csv"), "csv");
}

// What NumPy itself writes (savez and savez_compressed, float64, uint8 images, int64 labels).
TEST(NpzData, ReadsWhatNumPyWrites) {
  if (std::system("/usr/bin/python3 -c 'import numpy' > /dev/null 2>&1") != 0) {
    GTEST_SKIP() << "/usr/bin/python3 with numpy not installed (Debian: python3-numpy; scripts/setup-deps.sh)";
  }
  testing::TempDir dir;
  std::string cmd = "/usr/bin/python3 -c \"import numpy as np; r = np.arange(2*3*4*5).reshape(2*3, 4, 5); "
                    "np.savez('" + dir.sub("a.npz") + "', x_train=r.astype(np.float64), y_train=np.array([5, 0, 1, 2, 3, 4])); "
                    "np.savez_compressed('" + dir.sub("b.npz") + "', x_train=(r % 256).astype(np.uint8), "
                    "y_train=np.arange(6, dtype=np.int64), x_test=r[:2].astype(np.float32), y_test=np.array([1, 1]))\"";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  LocalData a, b;
  ASSERT_TRUE(load_npz(dir.sub("a.npz"), Task::kClassification, &a).ok());
  EXPECT_EQ(a.train.feature_shape, (std::vector<std::int64_t>{4, 5}));
  EXPECT_EQ(a.train.size(), 6u);
  EXPECT_FLOAT_EQ(a.train.features[119], 119.0f);
  EXPECT_EQ(a.train.labels[0], 5);
  ASSERT_TRUE(load_npz(dir.sub("b.npz"), Task::kClassification, &b).ok());
  EXPECT_EQ(b.train.byte_features[119], 119);
  EXPECT_EQ(b.test.size(), 2u);
}

}  // namespace
}  // namespace fednode::fl

// Image folders, with PNG and JPEG files written here by stb_image_write.
#include <stb_image_write.h>

namespace fednode::fl {
namespace {

void write_png(const std::string& path, int w, int h, int channels, std::uint8_t value) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::vector<std::uint8_t> px(static_cast<std::size_t>(w) * h * channels);
  for (std::size_t i = 0; i < px.size(); ++i) px[i] = static_cast<std::uint8_t>(value + (i % channels) * 10);
  ASSERT_TRUE(stbi_write_png(path.c_str(), w, h, channels, px.data(), w * channels));
}

TEST(ImageFolder, ReadsClassesImagesAndATestSplit) {
  testing::TempDir dir;
  std::string root = dir.sub("party");
  for (int i = 0; i < 3; ++i) {
    write_png(root + "/train/cat/" + std::to_string(i) + ".png", 8, 6, 3, 40);
    write_png(root + "/train/dog/" + std::to_string(i) + ".png", 8, 6, 3, 90);
  }
  write_png(root + "/test/dog/x.png", 8, 6, 3, 90);
  std::ofstream(root + "/train/dog/notes.txt") << "not an image: ignored";
  LocalData d;
  Status s = load_local_data(root, DataOptions{}, &d);
  EXPECT_NE(s.message().find("class folder 'cat' is not a class number; name the classes in"), std::string::npos)
      << "sorted names would differ between parties: " << s.message();
  std::ofstream(root + "/classes.txt") << "cat\ndog\n";
  EXPECT_EQ(detect_data_format(root), "imagefolder");
  DataOptions o;
  o.normalize = {0.5f, 0.5f, 0.5f, 0.25f, 0.25f, 0.25f};
  ASSERT_TRUE(load_local_data(root, o, &d).ok());
  EXPECT_EQ(d.train.size(), 6u);
  EXPECT_EQ(d.train.channels, 3);
  EXPECT_EQ(d.train.width, 8);
  EXPECT_EQ(d.train.height, 6);
  EXPECT_EQ(d.train.labels, (std::vector<std::int32_t>{0, 0, 0, 1, 1, 1})) << "cat, dog: classes.txt";
  EXPECT_EQ(d.train.pixels[0], 40);
  EXPECT_EQ(d.train.pixels[48], 50) << "channel planes (CHW): the second plane is green";
  EXPECT_EQ(d.test.labels, (std::vector<std::int32_t>{1}));
  EXPECT_EQ(d.train.norm_std, (std::vector<float>{0.25f, 0.25f, 0.25f}));
  // Greyscale and resized.
  o = DataOptions{};
  o.image_channels = 1;
  o.image_size = 4;
  ASSERT_TRUE(load_local_data(root, o, &d).ok());
  EXPECT_EQ(d.train.image_bytes(), 16u);
}

TEST(ImageFolder, ClassNumbersAndClassesTxtKeepLabelsTheSameOnEveryParty) {
  testing::TempDir dir;
  std::string root = dir.sub("numbers");
  write_png(root + "/train/7/a.png", 4, 4, 1, 1);
  write_png(root + "/train/2/a.png", 4, 4, 1, 1);
  DataOptions o;
  o.image_channels = 1;
  LocalData d;
  ASSERT_TRUE(load_local_data(root, o, &d).ok());
  EXPECT_EQ(d.train.labels, (std::vector<std::int32_t>{2, 7})) << "folders named by class number keep it";
  std::string named = dir.sub("named");
  write_png(named + "/train/zebra/a.png", 4, 4, 1, 1);
  std::ofstream(named + "/classes.txt") << "ant\nbee\nzebra\n";
  ASSERT_TRUE(load_local_data(named, o, &d).ok());
  EXPECT_EQ(d.train.labels, (std::vector<std::int32_t>{2}));
  write_png(named + "/train/wasp/a.png", 4, 4, 1, 1);
  Status s = load_local_data(named, o, &d);
  EXPECT_NE(s.message().find("class 'wasp' is not in"), std::string::npos) << s.message();
}

TEST(ImageFolder, EveryBadImageIsNamed) {
  testing::TempDir dir;
  std::string root = dir.sub("bad");
  LocalData d;
  DataOptions o;
  Status s = load_image_folder(root, o, &d);
  EXPECT_NE(s.message().find("needs train/<class>"), std::string::npos) << s.message();
  write_png(root + "/train/0/1.png", 8, 8, 3, 1);
  write_png(root + "/train/0/2.png", 9, 8, 3, 1);
  s = load_local_data(root, o, &d);
  EXPECT_NE(s.message().find("2.png: 9x8 pixels, the first image 8x8 (pass --image-size N"), std::string::npos) << s.message();
  std::filesystem::remove(root + "/train/0/2.png");
  std::ofstream(root + "/train/0/3.jpg") << "\xff\xd8\xff garbage";
  s = load_local_data(root, o, &d);
  EXPECT_NE(s.message().find("3.jpg: not a readable JPEG"), std::string::npos) << s.message();
  std::filesystem::remove(root + "/train/0/3.jpg");
  std::string png;
  ASSERT_TRUE(read_file(root + "/train/0/1.png", &png).ok());
  std::ofstream(root + "/train/0/4.png", std::ios::binary) << png.substr(0, png.size() / 2);
  s = load_local_data(root, o, &d);
  EXPECT_NE(s.message().find("4.png"), std::string::npos) << s.message();
  EXPECT_EQ(s.message().find('\n'), std::string::npos) << s.message();
  std::filesystem::remove(root + "/train/0/4.png");
  o.normalize = {0.5f};
  s = load_local_data(root, o, &d);
  EXPECT_NE(s.message().find("--normalize needs 3 means"), std::string::npos) << s.message();
  std::string empty = dir.sub("empty");
  std::filesystem::create_directories(empty + "/train/0");
  s = load_local_data(empty, DataOptions{}, &d);
  EXPECT_NE(s.message().find("no images"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace fednode::fl
