#include "fednode/fl/model_weights.h"

#include <sodium.h>

#include <cstring>

#include "fednode/util/little_endian.h"

namespace fednode::fl {

std::size_t ModelWeights::parameter_count() const {
  std::size_t n = 0;
  for (const auto& p : parameters) n += p.values.size();
  return n;
}

std::string serialize_weights(const ModelWeights& w) {
  std::string out = "FNW1";
  put_le<std::uint32_t>(out, static_cast<std::uint32_t>(w.parameters.size()));
  for (const auto& p : w.parameters) {
    put_le<std::uint32_t>(out, static_cast<std::uint32_t>(p.name.size()));
    out += p.name;
    put_le<std::uint32_t>(out, static_cast<std::uint32_t>(p.shape.size()));
    for (auto d : p.shape) put_le<std::uint64_t>(out, static_cast<std::uint64_t>(d));
    out.push_back(1);  // float32
    put_le<std::uint64_t>(out, p.values.size());
    for (float f : p.values) {
      std::uint32_t bits;
      std::memcpy(&bits, &f, 4);
      put_le<std::uint32_t>(out, bits);
    }
  }
  return out;
}

Status deserialize_weights(std::string_view bytes, ModelWeights* out) {
  out->parameters.clear();
  LeReader r(bytes);
  std::string_view magic;
  if (!r.take(4, &magic) || magic != "FNW1") return Status::error("model bytes: bad magic (expected FNW1)");
  std::uint32_t count;
  if (!r.get(&count)) return Status::error("model bytes: truncated header");
  std::string last_name;
  for (std::uint32_t k = 0; k < count; ++k) {
    auto fail = [&](const std::string& what) {
      return Status::error("model bytes: parameter " + std::to_string(k) + ": " + what + " at offset " + std::to_string(r.pos()));
    };
    Parameter p;
    std::uint32_t name_len, rank;
    std::string_view name;
    if (!r.get(&name_len) || !r.take(name_len, &name)) return fail("truncated name");
    p.name.assign(name);
    if (k > 0 && p.name <= last_name) return fail("names not in strict order");
    last_name = p.name;
    if (!r.get(&rank) || rank > 8) return fail("bad rank");
    std::uint64_t expected = 1;
    for (std::uint32_t d = 0; d < rank; ++d) {
      std::uint64_t dim;
      if (!r.get(&dim) || dim > (1ull << 32)) return fail("bad dimension");
      p.shape.push_back(static_cast<std::int64_t>(dim));
      expected *= dim;
    }
    std::uint8_t dtype;
    std::uint64_t n;
    if (!r.get(&dtype) || dtype != 1) return fail("unsupported dtype");
    if (!r.get(&n) || n != expected) return fail("element count does not match shape");
    std::string_view data;
    if (n > (bytes.size() / 4) || !r.take(n * 4, &data)) return fail("truncated data");
    p.values.resize(n);
    for (std::uint64_t i = 0; i < n; ++i) {
      std::uint32_t bits = 0;
      for (int b = 0; b < 4; ++b) bits |= static_cast<std::uint32_t>(static_cast<unsigned char>(data[i * 4 + b])) << (8 * b);
      std::memcpy(&p.values[i], &bits, 4);
    }
    out->parameters.push_back(std::move(p));
  }
  if (!r.done()) return Status::error("model bytes: " + std::to_string(bytes.size() - r.pos()) + " trailing bytes");
  return {};
}

Status same_layout(const ModelWeights& a, const ModelWeights& b) {
  if (a.parameters.size() != b.parameters.size()) {
    return Status::error("model has " + std::to_string(b.parameters.size()) + " parameters, expected " +
                         std::to_string(a.parameters.size()));
  }
  for (std::size_t i = 0; i < a.parameters.size(); ++i) {
    if (a.parameters[i].name != b.parameters[i].name || a.parameters[i].shape != b.parameters[i].shape) {
      return Status::error("parameter " + b.parameters[i].name + " does not match " + a.parameters[i].name +
                           " in name or shape");
    }
  }
  return {};
}

}  // namespace fednode::fl
