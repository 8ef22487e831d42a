#include "partial_uploads.h"

#include <algorithm>

namespace fednode::net {

void PartialUploads::expire(Clock::time_point now) {
  for (auto it = uploads_.begin(); it != uploads_.end();) {
    if (now - it->second.touched > kIdle) {
      declared_ -= it->second.size;
      it = uploads_.erase(it);
    } else {
      ++it;
    }
  }
}

void PartialUploads::make_room(const std::string& sender, std::uint64_t size) {
  auto oldest = [&](bool same_sender) {
    auto best = uploads_.end();
    for (auto it = uploads_.begin(); it != uploads_.end(); ++it) {
      if (same_sender && it->first.first != sender) continue;
      if (best == uploads_.end() || it->second.touched < best->second.touched) best = it;
    }
    return best;
  };
  auto count_of_sender = [&] {
    return static_cast<std::size_t>(std::count_if(uploads_.begin(), uploads_.end(), [&](const auto& u) { return u.first.first == sender; }));
  };
  auto bytes_of_sender = [&] {
    std::uint64_t n = 0;
    for (const auto& [key, u] : uploads_) n += key.first == sender ? u.size : 0;
    return n;
  };
  while (count_of_sender() >= kPerSender || (count_of_sender() > 0 && bytes_of_sender() + size > kPerSenderBytes)) {
    auto it = oldest(true);
    declared_ -= it->second.size;
    uploads_.erase(it);
  }
  while (!uploads_.empty() && declared_ + size > kTotalBytes) {
    auto it = oldest(false);
    declared_ -= it->second.size;
    uploads_.erase(it);
  }
}

Status PartialUploads::add(const std::string& sender, const std::string& id, std::uint64_t size, std::uint64_t offset,
                           std::string_view data, std::uint64_t* have, Clock::time_point now) {
  std::lock_guard<std::mutex> lock(mu_);
  expire(now);
  if (size == 0 || size > kPerSenderBytes) {
    return Status::error("an upload of " + std::to_string(size) + " bytes (1 to " + std::to_string(kPerSenderBytes) +
                         " are taken)");
  }
  auto key = std::make_pair(sender, id);
  auto it = uploads_.find(key);
  if (it == uploads_.end()) {
    *have = 0;
    if (offset != 0) return {};  // nothing held: the sender starts again from 0
    make_room(sender, size);
    it = uploads_.emplace(key, Upload{size, {}, now}).first;
    declared_ += size;
  } else if (it->second.size != size) {
    return Status::error("the upload of " + id.substr(0, 12) + " was started with " + std::to_string(it->second.size) +
                         " bytes, not " + std::to_string(size));
  }
  Upload& u = it->second;
  u.touched = now;
  if (offset == u.data.size() && offset + data.size() <= u.size) u.data.append(data);
  *have = u.data.size();
  return {};
}

Status PartialUploads::take(const std::string& sender, const std::string& id, std::string* data, Clock::time_point now) {
  std::lock_guard<std::mutex> lock(mu_);
  expire(now);
  auto it = uploads_.find(std::make_pair(sender, id));
  if (it == uploads_.end()) return Status::error("no upload of " + id.substr(0, 12) + " in parts from this sender");
  if (it->second.data.size() != it->second.size) {
    return Status::error("the upload of " + id.substr(0, 12) + " holds " + std::to_string(it->second.data.size()) +
                         " of its " + std::to_string(it->second.size) + " bytes");
  }
  *data = std::move(it->second.data);
  declared_ -= it->second.size;
  uploads_.erase(it);
  return {};
}

std::size_t PartialUploads::count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return uploads_.size();
}

}  // namespace fednode::net
