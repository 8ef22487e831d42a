// Compressed updates: IEEE half conversions against known bit patterns and every half value,
// the delta encodings' error bounds and sizes, and what the decoder refuses.
#include "fednode/fl/update_codec.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>

#include <zlib.h>

#include "../storage/temp_dir.h"
#include "fednode/fl/model_store.h"

namespace fednode::fl {
namespace {

TEST(Half, KnownValuesAndRounding) {
  EXPECT_EQ(float_to_half(1.0f), 0x3c00);
  EXPECT_EQ(float_to_half(-2.0f), 0xc000);
  EXPECT_EQ(float_to_half(0.1f), 0x2e66);
  EXPECT_EQ(float_to_half(65504.0f), 0x7bff);
  EXPECT_EQ(float_to_half(1e6f), 0x7bff);  // saturates: a finite change stays finite
  EXPECT_EQ(float_to_half(std::ldexp(1.0f, -24)), 0x0001);  // smallest subnormal
  EXPECT_EQ(float_to_half(std::ldexp(1.0f, -26)), 0x0000);  // under half of it
  EXPECT_EQ(float_to_half(1.0f + std::ldexp(1.0f, -11)), 0x3c00);       // a tie goes to even
  EXPECT_EQ(float_to_half(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);   // a tie goes to even
  EXPECT_EQ(float_to_half(1.0f + std::ldexp(1.0f, -11) + std::ldexp(1.0f, -20)), 0x3c01);
  EXPECT_EQ(float_to_half(-0.0f), 0x8000);
  EXPECT_EQ(float_to_half(INFINITY), 0x7c00);
  EXPECT_TRUE(std::isnan(half_to_float(float_to_half(NAN))));
  EXPECT_FLOAT_EQ(half_to_float(0x3555), 0.333251953125f);
}

TEST(Half, EveryHalfSurvivesARoundTrip) {
  for (std::uint32_t h = 0; h < 0x10000; ++h) {
    auto x = static_cast<std::uint16_t>(h);
    float f = half_to_float(x);
    if (std::isnan(f)) continue;
    ASSERT_EQ(float_to_half(f), x) << std::hex << h;
  }
}

ModelWeights layer(std::mt19937& rng, float spread) {
  std::normal_distribution<float> d(0.0f, spread);
  ModelWeights w;
  w.parameters.push_back({"bias", {16}, {}});
  w.parameters.push_back({"weight", {16, 64}, {}});
  for (auto& p : w.parameters) {
    p.values.resize(p.name == "bias" ? 16 : 1024);
    for (auto& v : p.values) v = d(rng);
  }
  return w;
}

// The values of an encoded change (after its 69-byte header), inflated; and a change with the
// same header and other values, deflated: to hand the decoder what no encoder writes.
std::string inflated_values(const std::string& change, std::size_t capacity) {
  std::string out(capacity, '\0');
  uLongf got = static_cast<uLongf>(capacity);
  EXPECT_EQ(uncompress(reinterpret_cast<Bytef*>(out.data()), &got, reinterpret_cast<const Bytef*>(change.data() + 69),
                       static_cast<uLong>(change.size() - 69)), Z_OK);
  out.resize(got);
  return out;
}

std::string with_values(const std::string& change, const std::string& values) {
  uLongf packed = compressBound(static_cast<uLong>(values.size()));
  std::string out(packed, '\0');
  EXPECT_EQ(compress(reinterpret_cast<Bytef*>(out.data()), &packed, reinterpret_cast<const Bytef*>(values.data()),
                     static_cast<uLong>(values.size())), Z_OK);
  out.resize(packed);
  return change.substr(0, 69) + out;
}

TEST(UpdateCodec, DeltasDecodeWithinTheirErrorBoundsAtAHalfAndAQuarterOfTheSize) {
  std::mt19937 rng(7);
  ModelWeights base = layer(rng, 0.1f), trained = base;
  std::normal_distribution<float> step(0.0f, 0.01f);
  for (auto& p : trained.parameters) {
    for (auto& v : p.values) v += step(rng);
  }
  std::string id = model_id(base);
  std::string fp32 = encode_update(UpdateEncoding::kFp32, base, id, trained);
  std::string fp16 = encode_update(UpdateEncoding::kFp16, base, id, trained);
  std::string int8 = encode_update(UpdateEncoding::kInt8, base, id, trained);
  EXPECT_EQ(fp32, serialize_weights(trained));
  EXPECT_LT(fp16.size(), fp32.size() / 2 + 128);
  EXPECT_LT(int8.size(), fp32.size() / 4 + 128);
  EXPECT_EQ(fp16, encode_update(UpdateEncoding::kFp16, base, id, trained));  // deterministic
  for (auto [bytes, name] : {std::pair{&fp32, "fp32"}, std::pair{&fp16, "fp16"}, std::pair{&int8, "int8"}}) {
    ModelWeights back;
    ASSERT_TRUE(decode_update(*bytes, base, id, &back).ok()) << name;
    ASSERT_TRUE(same_layout(base, back).ok());
    for (std::size_t p = 0; p < back.parameters.size(); ++p) {
      const std::size_t block = 256;  // int8: a scale per block of 256 values
      std::vector<float> largest((base.parameters[p].values.size() + block - 1) / block, 0.0f);
      for (std::size_t i = 0; i < base.parameters[p].values.size(); ++i) {
        float& l = largest[i / block];
        l = std::max(l, std::fabs(trained.parameters[p].values[i] - base.parameters[p].values[i]));
      }
      for (std::size_t i = 0; i < back.parameters[p].values.size(); ++i) {
        float delta = trained.parameters[p].values[i] - base.parameters[p].values[i];
        float err = std::fabs(back.parameters[p].values[i] - trained.parameters[p].values[i]);
        float bound = std::string(name) == "fp32"   ? 0.0f
                      : std::string(name) == "fp16" ? std::fabs(delta) * std::ldexp(1.0f, -11) + 1e-7f
                                                    : largest[i / block] / 127.0f / 2 + 1e-7f;
        ASSERT_LE(err, bound) << name << " " << base.parameters[p].name << "[" << i << "]";
      }
    }
  }
}

// A change shaped like a round's (most values small, a few large: on Fashion-MNIST's fc1 the
// largest is 11-13 times the RMS), on a layer of that size: deflated, fp16 and int8 come under a
// half and a quarter of fp32 with their names, header and scales.
TEST(UpdateCodec, DeflatedChangesComeUnderAHalfAndAQuarter) {
  std::mt19937 rng(11);
  std::student_t_distribution<float> heavy(3.0f);
  ModelWeights base, trained;
  base.parameters.push_back({"fc1.weight", {120, 256}, std::vector<float>(30720, 0.0f)});
  trained = base;
  for (auto& v : trained.parameters[0].values) v = 0.001f * heavy(rng);
  std::string id = model_id(base);
  std::size_t fp32 = encode_update(UpdateEncoding::kFp32, base, id, trained).size();
  std::size_t fp16 = encode_update(UpdateEncoding::kFp16, base, id, trained).size();
  std::size_t int8 = encode_update(UpdateEncoding::kInt8, base, id, trained).size();
  EXPECT_LT(fp16, fp32 / 2) << fp16 << " of " << fp32;
  EXPECT_LT(int8, fp32 / 4) << int8 << " of " << fp32;
  std::printf("fp32 %zu, fp16 %zu (/%.2f), int8 %zu (/%.2f) bytes\n", fp32, fp16, double(fp32) / fp16, int8,
              double(fp32) / int8);
}

// One large change no longer sets the step for the whole tensor: the blocks without it keep
// their precision (a per-tensor scale would round all of them to nothing).
TEST(UpdateCodec, Int8ScalesEachBlockOf256ValuesByItsOwnLargestChange) {
  ModelWeights base, trained;
  base.parameters.push_back({"w", {1024}, std::vector<float>(1024, 0.0f)});
  trained = base;
  for (std::size_t i = 0; i < 1024; ++i) trained.parameters[0].values[i] = 0.001f * static_cast<float>(i % 7 + 1);
  trained.parameters[0].values[3] = 10.0f;  // the outlier, in the first block
  std::string id = model_id(base);
  ModelWeights back;
  ASSERT_TRUE(decode_update(encode_update(UpdateEncoding::kInt8, base, id, trained), base, id, &back).ok());
  for (std::size_t i = 256; i < 1024; ++i) {
    float want = trained.parameters[0].values[i];
    ASSERT_NEAR(back.parameters[0].values[i], want, 0.007f / 127 / 2 + 1e-7f) << i;
  }
  EXPECT_NEAR(back.parameters[0].values[3], 10.0f, 10.0f / 127 / 2);
  EXPECT_NEAR(back.parameters[0].values[4], 0.0f, 1e-9f) << "the outlier's block rounds the small ones away";
}

// A change from an earlier version, one scale per tensor (encoding byte 3), still decodes.
TEST(UpdateCodec, DecodesTheEarlierPerTensorInt8) {
  ModelWeights base;
  base.parameters.push_back({"a", {0}, {}});
  base.parameters.push_back({"b", {3}, {1.0f, 1.0f, 1.0f}});
  std::string id = model_id(base);
  auto le32 = [](std::string& out, std::uint32_t v) {
    for (int k = 0; k < 4; ++k) out.push_back(static_cast<char>(v >> (8 * k)));
  };
  auto le64 = [](std::string& out, std::uint64_t v) {
    for (int k = 0; k < 8; ++k) out.push_back(static_cast<char>(v >> (8 * k)));
  };
  std::string old = "FNU1" + id;
  old.push_back(3);
  le32(old, 2);
  le32(old, 1);
  old += "a";
  le64(old, 0);
  le32(old, 0);  // the scale earlier versions wrote for an empty tensor
  le32(old, 1);
  old += "b";
  le64(old, 3);
  float scale = 0.5f;
  std::uint32_t bits;
  std::memcpy(&bits, &scale, 4);
  le32(old, bits);
  for (int q : {2, -1, 0}) old.push_back(static_cast<char>(q));
  ModelWeights back;
  Status s = decode_update(old, base, id, &back);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(back.parameters[1].values, (std::vector<float>{2.0f, 0.5f, 1.0f}));
  old[68] = 5;  // an encoding byte no version writes
  EXPECT_NE(decode_update(old, base, id, &back).message().find("unknown encoding"), std::string::npos);
}

TEST(UpdateCodec, RefusesAnotherBaseAnotherLayoutAndDamagedBytes) {
  std::mt19937 rng(3);
  ModelWeights base = layer(rng, 0.1f), trained = layer(rng, 0.1f), out;
  std::string id = model_id(base);
  for (auto encoding : {UpdateEncoding::kFp16, UpdateEncoding::kInt8}) {
    std::string bytes = encode_update(encoding, base, id, trained);
    Status s = decode_update(bytes, base, std::string(64, 'f'), &out);
    EXPECT_NE(s.message().find("not the base"), std::string::npos) << s.message();
    ModelWeights other = base;
    other.parameters[0].name = "other";
    EXPECT_FALSE(decode_update(bytes, other, id, &out).ok());
    for (std::size_t cut : {std::size_t{5}, bytes.size() / 2, bytes.size() - 1}) {
      EXPECT_FALSE(decode_update(bytes.substr(0, cut), base, id, &out).ok()) << cut;
    }
    EXPECT_FALSE(decode_update(bytes + "x", base, id, &out).ok());
  }
  std::string int8 = encode_update(UpdateEncoding::kInt8, base, id, trained);
  std::string payload = inflated_values(int8, 1 << 20);
  std::string bad = payload;
  bad.back() = static_cast<char>(-128);
  EXPECT_NE(decode_update(with_values(int8, bad), base, id, &out).message().find("-128"), std::string::npos);
  // A stream that inflates beyond the base's layout (a bomb) or short of it, and bytes after it.
  Status bomb = decode_update(with_values(int8, payload + std::string(1 << 20, '\0')), base, id, &out);
  EXPECT_NE(bomb.message().find("do not inflate to the " + std::to_string(payload.size()) + " bytes"), std::string::npos)
      << bomb.message();
  Status shorter = decode_update(with_values(int8, payload.substr(0, payload.size() - 1)), base, id, &out);
  EXPECT_NE(shorter.message().find("do not inflate"), std::string::npos) << shorter.message();
  EXPECT_NE(decode_update(int8 + "x", base, id, &out).message().find("1 trailing bytes"), std::string::npos);
  std::string raw_blocks = int8.substr(0, 68) + std::string(1, '\x04') + payload;  // never written undeflated
  EXPECT_NE(decode_update(raw_blocks, base, id, &out).message().find("unknown encoding"), std::string::npos);
  std::string garbage = int8.substr(0, 69) + "not zlib at all";
  EXPECT_NE(decode_update(garbage, base, id, &out).message().find("zlib"), std::string::npos);
  ModelWeights diverged = trained;
  diverged.parameters[1].values[5] = NAN;
  std::string nan_scale = encode_update(UpdateEncoding::kInt8, base, id, diverged);
  EXPECT_NE(decode_update(nan_scale, base, id, &out).message().find("scale"), std::string::npos);
  EXPECT_FALSE(parse_update_encoding("bf16"));
  EXPECT_EQ(*parse_update_encoding("int8"), UpdateEncoding::kInt8);
}

// Compressed broadcast: a store holding the base rebuilds the aggregator's model bit for bit from
// the change (and keeps the change to hand on); anything else is refused and nothing is stored.
TEST(ModelStoreDelta, RebuildsTheModelFromTheChangeOnlyWhereTheBaseIsAndTheHashMatches) {
  std::mt19937 rng(11);
  ModelWeights base = layer(rng, 0.1f), trained = layer(rng, 0.1f), global;
  std::string base_id = model_id(base);
  testing::TempDir dir;
  ModelStore aggregator(dir.sub("a")), peer(dir.sub("p")), empty(dir.sub("e"));
  ASSERT_TRUE(aggregator.init().ok() && peer.init().ok() && empty.init().ok());
  std::string stored;
  ASSERT_TRUE(aggregator.put(base, &stored).ok());
  ASSERT_TRUE(peer.put(base, &stored).ok());
  for (auto encoding : {UpdateEncoding::kFp16, UpdateEncoding::kInt8}) {
    std::string delta = encode_update(encoding, base, base_id, trained);
    ASSERT_EQ(delta_base_id(delta), base_id);
    ASSERT_TRUE(decode_update(delta, base, base_id, &global).ok());
    std::string id;
    ASSERT_TRUE(aggregator.put(global, &id).ok());
    ASSERT_TRUE(aggregator.put_delta(id, delta).ok());
    std::string kept;
    ASSERT_TRUE(aggregator.get_delta(id, &kept).ok());
    EXPECT_EQ(kept, delta);

    Status missing = empty.put_from_delta(id, delta);
    EXPECT_NE(missing.message().find("not held here"), std::string::npos) << missing.message();
    EXPECT_FALSE(empty.has(id));
    std::string other_id(64, 'a');
    Status wrong = peer.put_from_delta(other_id, delta);
    EXPECT_NE(wrong.message().find("does not give model"), std::string::npos) << wrong.message();
    EXPECT_FALSE(peer.has(other_id));
    std::string damaged = delta;
    damaged.back() = static_cast<char>(damaged.back() ^ 1);
    EXPECT_FALSE(peer.put_from_delta(id, damaged).ok());
    EXPECT_FALSE(peer.has(id));

    ASSERT_TRUE(peer.put_from_delta(id, delta).ok());
    std::string a, b;
    ASSERT_TRUE(aggregator.get_bytes(id, &a).ok() && peer.get_bytes(id, &b).ok());
    EXPECT_EQ(a, b);
    ASSERT_TRUE(peer.get_delta(id, &kept).ok());
    EXPECT_EQ(kept, delta);
    peer.remove(id);
    EXPECT_FALSE(peer.has(id));
    EXPECT_FALSE(peer.get_delta(id, &kept).ok()) << "the change outlived its model";
  }
  EXPECT_FALSE(delta_base_id(serialize_weights(base)));
  EXPECT_FALSE(aggregator.put_delta(base_id, "not a delta").ok());
}

}  // namespace
}  // namespace fednode::fl
