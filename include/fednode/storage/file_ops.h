#pragma once
// The system calls the log's durability rests on (write, fdatasync, ftruncate of a segment),
// behind an interface so that tests make them fail as a disk does: EIO, ENOSPC, a short write.
// posix_file_ops() is the real thing; DurableOptions and BackgroundSync take another.
#include <sys/types.h>

#include <cstddef>

namespace fednode::storage {

class FileOps {
 public:
  virtual ~FileOps() = default;
  // As the system calls: -1 with errno set on failure.
  virtual ssize_t write(int fd, const void* data, std::size_t size) = 0;
  virtual int fdatasync(int fd) = 0;
  virtual int ftruncate(int fd, off_t size) = 0;
};

FileOps& posix_file_ops();

}  // namespace fednode::storage
