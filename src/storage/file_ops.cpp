#include "fednode/storage/file_ops.h"

#include <unistd.h>

namespace fednode::storage {
namespace {

class PosixFileOps : public FileOps {
 public:
  ssize_t write(int fd, const void* data, std::size_t size) override { return ::write(fd, data, size); }
  int fdatasync(int fd) override { return ::fdatasync(fd); }
  int ftruncate(int fd, off_t size) override { return ::ftruncate(fd, size); }
};

}  // namespace

FileOps& posix_file_ops() {
  static PosixFileOps ops;
  return ops;
}

}  // namespace fednode::storage
