#include "fednode/util/file_io.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>

namespace fednode {
namespace {

Status errno_error(const std::string& what, const std::string& path) {
  return Status::error(what + " " + path + ": " + std::strerror(errno));
}

Status write_all(int fd, std::string_view bytes, const std::string& path) {
  while (!bytes.empty()) {
    ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_error("write", path);
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

}  // namespace

Status read_file(const std::string& path, std::string* out) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno_error("cannot open", path);
  out->clear();
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      Status s = errno_error("cannot read", path);
      ::close(fd);
      return s;
    }
    if (n == 0) break;
    out->append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return {};
}

Status fsync_directory(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno_error("cannot open directory", dir);
  int rc = ::fsync(fd);
  Status s = rc == 0 ? Status{} : errno_error("cannot fsync directory", dir);
  ::close(fd);
  return s;
}

bool is_interrupted_write(const std::string& file_name) {
  return file_name.find(".tmp.") != std::string::npos || (file_name.size() > 4 && file_name.ends_with(".tmp"));
}

Status write_file_atomically(const std::string& path, std::string_view bytes, bool sync) {
  // Unique per call: two threads may store the same content-addressed blob at once.
  static std::atomic<std::uint64_t> sequence{0};
  std::string tmp = path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(sequence++);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return errno_error("cannot create", tmp);
  Status s = write_all(fd, bytes, tmp);
  if (s.ok() && sync && ::fsync(fd) != 0) s = errno_error("cannot fsync", tmp);
  ::close(fd);
  if (!s.ok()) return s;
  if (::rename(tmp.c_str(), path.c_str()) != 0) return errno_error("cannot rename to", path);
  if (!sync) return {};
  return fsync_directory(std::filesystem::path(path).parent_path().string());
}

}  // namespace fednode
