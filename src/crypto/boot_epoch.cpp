#include "fednode/crypto/boot_epoch.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <string>

#include "fednode/util/file_io.h"

namespace fednode::crypto {

Status next_boot_epoch(const std::string& data_dir, std::uint32_t* epoch, std::uint64_t wall_seconds) {
  std::string path = data_dir + "/boot_epoch";
  std::uint64_t last = 0;
  std::error_code ec;
  if (std::filesystem::exists(path, ec)) {
    std::string text;
    if (Status s = read_file(path, &text); !s.ok()) return s;
    try {
      std::size_t used = 0;
      last = std::stoull(text, &used);
      if (used == 0 || text[0] == '-' || last > 0xffffffffull) throw std::invalid_argument("not an epoch");
    } catch (const std::exception&) {
      return Status::error(path + ": not a boot counter; a node must not guess it (nonces would repeat): "
                           "restore the file or remove the node's keys and data");
    }
  }
  std::uint64_t next = std::max(last + 1, wall_seconds);
  if (next > 0xffffffffull) return Status::error(path + ": the boot counter is exhausted; give this node a new key");
  if (Status s = write_file_atomically(path, std::to_string(next) + "\n"); !s.ok()) return s;
  *epoch = static_cast<std::uint32_t>(next);
  return {};
}

Status next_boot_epoch(const std::string& data_dir, std::uint32_t* epoch) {
  auto now = std::chrono::system_clock::now().time_since_epoch();
  auto seconds = std::chrono::duration_cast<std::chrono::seconds>(now).count();
  return next_boot_epoch(data_dir, epoch, seconds > 0 ? static_cast<std::uint64_t>(seconds) : 0);
}

}  // namespace fednode::crypto
