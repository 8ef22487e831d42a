#include "fednode/fl/update_rows.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace fednode::fl {

Status MemoryRows::read(std::size_t row, std::size_t begin, std::size_t count, float* out) const {
  std::size_t offset = 0;
  for (const auto& p : updates_[row].weights.parameters) {
    std::size_t n = p.values.size();
    if (begin < offset + n && count > 0) {
      std::size_t from = begin - offset, take = std::min(count, n - from);
      std::memcpy(out, p.values.data() + from, take * sizeof(float));
      out += take;
      begin += take;
      count -= take;
    }
    offset += n;
  }
  if (count != 0) return Status::error("update " + std::to_string(row) + " has fewer coordinates than asked for");
  return {};
}

SpilledRows::SpilledRows(std::string dir, ModelWeights layout) : dir_(std::move(dir)), layout_(std::move(layout)) {}

SpilledRows::~SpilledRows() {
  std::error_code ec;
  for (std::size_t r = 0; r < samples_.size(); ++r) std::filesystem::remove(path_of(r), ec);
}

std::string SpilledRows::path_of(std::size_t row) const { return dir_ + "/update-" + std::to_string(row) + ".f32"; }

Status SpilledRows::add(const ModelWeights& update, std::uint64_t samples) {
  if (Status s = same_layout(layout_, update); !s.ok()) return s;
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) return Status::error(dir_ + ": " + ec.message());
  std::string path = path_of(samples_.size());
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Status::error(path + ": " + std::strerror(errno));
  for (const auto& p : update.parameters) {
    const char* data = reinterpret_cast<const char*>(p.values.data());
    std::size_t left = p.values.size() * sizeof(float);
    while (left > 0) {
      ssize_t w = ::write(fd, data, left);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) {
        Status s = Status::error(path + ": " + std::strerror(errno));
        ::close(fd);
        std::filesystem::remove(path, ec);
        return s;
      }
      data += w;
      left -= static_cast<std::size_t>(w);
    }
  }
  ::close(fd);  // scratch for this aggregation only: no fsync
  samples_.push_back(samples);
  return {};
}

Status SpilledRows::read(std::size_t row, std::size_t begin, std::size_t count, float* out) const {
  std::string path = path_of(row);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::error(path + ": " + std::strerror(errno));
  char* dst = reinterpret_cast<char*>(out);
  std::size_t left = count * sizeof(float);
  auto at = static_cast<off_t>(begin * sizeof(float));
  while (left > 0) {
    ssize_t r = ::pread(fd, dst, left, at);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      ::close(fd);
      return Status::error(path + ": " + (r == 0 ? std::string("shorter than the model") : std::strerror(errno)));
    }
    dst += r;
    at += r;
    left -= static_cast<std::size_t>(r);
  }
  ::close(fd);
  return {};
}

Status WeightedSum::add(const ModelWeights& update, std::uint64_t samples) {
  if (count_ == 0) {
    layout_ = update;
    acc_.clear();
    for (const auto& p : update.parameters) acc_.emplace_back(p.values.size(), 0.0);
    for (auto& p : layout_.parameters) p.values.clear();
  } else if (Status s = same_layout(layout_, update); !s.ok()) {
    return Status::error("update " + std::to_string(count_) + ": " + s.message());
  }
  const auto w = static_cast<double>(samples);
  for (std::size_t p = 0; p < acc_.size(); ++p) {
    const auto& v = update.parameters[p].values;
    auto& a = acc_[p];
    for (std::size_t i = 0; i < a.size(); ++i) a[i] += w * v[i];
  }
  total_ += samples;
  ++count_;
  return {};
}

Status WeightedSum::mean(ModelWeights* out) const {
  if (count_ == 0) return Status::error("fedavg: no updates");
  if (total_ == 0) return Status::error("fedavg: updates carry zero samples in total");
  ModelWeights result = layout_;
  const auto total = static_cast<double>(total_);
  for (std::size_t p = 0; p < acc_.size(); ++p) {
    auto& values = result.parameters[p].values;
    values.resize(acc_[p].size());
    for (std::size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(acc_[p][i] / total);
  }
  *out = std::move(result);
  return {};
}

}  // namespace fednode::fl
