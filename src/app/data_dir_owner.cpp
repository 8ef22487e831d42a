#include "fednode/app/data_dir_owner.h"

#include <filesystem>

#include "fednode/util/file_io.h"

namespace fednode {

Status check_cluster_id(const std::string& data_dir, const std::string& cluster_id) {
  const std::string path = data_dir + "/cluster_id";
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    std::filesystem::create_directories(data_dir, ec);
    if (ec) return Status::error(data_dir + ": " + ec.message());
    return write_file_atomically(path, cluster_id + "\n");
  }
  std::string stored;
  if (Status s = read_file(path, &stored); !s.ok()) return s;
  while (!stored.empty() && (stored.back() == '\n' || stored.back() == '\r')) stored.pop_back();
  if (stored == cluster_id) return {};
  return Status::error(data_dir + " belongs to cluster '" + stored + "' (" + path + "), not '" + cluster_id +
                       "' (--cluster-id): start with that cluster id, or with another --data-dir");
}

Status check_member_of_stored_group(const std::string& data_dir, const std::string& self, bool member, bool join,
                                    std::size_t members) {
  if (member || join || members == 0) return {};
  return Status::error(data_dir + " holds a group of " + std::to_string(members) + " member(s) without this node (" +
                       self + ", its key): it was removed, or the dir is another node's; to rejoin start it with --join "
                       "(or add-peer it), or use an empty --data-dir");
}

}  // namespace fednode
