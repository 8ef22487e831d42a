#include "partial_uploads.h"


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

Status PartialUploads::make_room(const std::string& sender, std::uint64_t size, Clock::time_point now) {
  auto drop = [this](std::map<std::pair<std::string, std::string>, Upload>::iterator it) {
    declared_ -= it->second.size;
    uploads_.erase(it);
  };
  // The least recently touched upload among those `eligible` allows; end() when none.
  auto oldest = [&](auto eligible) {
    auto best = uploads_.end();
    for (auto it = uploads_.begin(); it != uploads_.end(); ++it) {
      if (eligible(*it) && (best == uploads_.end() || it->second.touched < best->second.touched)) best = it;
    }
    return best;
  };
  auto mine = [&](const auto& u) { return u.first.first == sender; };
  auto quiet = [&](const auto& u) { return now - u.second.touched >= kQuiet; };
  for (;;) {
    std::size_t count = 0;
    std::uint64_t bytes = 0;
    for (const auto& u : uploads_) {
      if (!mine(u)) continue;
      ++count;
      bytes += u.second.size;
    }
    if (count == 0 || (count < kPerSender && bytes + size <= kPerSenderBytes)) break;
    drop(oldest(mine));  // the sender's own oldest makes room for its next
  }
  while (uploads_.size() >= kMaxUploads || declared_ + size > kTotalBytes) {
    auto it = oldest(quiet);
    if (it == uploads_.end()) {
      return Status::error(std::string(kBusy) + "this node holds " + std::to_string(uploads_.size()) + " uploads in parts (" +
                           std::to_string(declared_ >> 20) + " MiB) still under way; send the whole blob");
    }
    drop(it);
  }
  return {};
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
    if (Status s = make_room(sender, size, now); !s.ok()) return s;
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

void PartialUploads::sweep(Clock::time_point now) {
  std::lock_guard<std::mutex> lock(mu_);
  expire(now);
}

std::size_t PartialUploads::count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return uploads_.size();
}

}  // namespace fednode::net
