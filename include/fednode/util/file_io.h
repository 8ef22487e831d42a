#pragma once
// Whole-file I/O with errors that name the file, and the atomic, durable file replacement
// (temp file, fsync, rename, fsync of the directory) that storage and the model store use.
#include <string>
#include <string_view>

#include "fednode/util/status.h"

namespace fednode {

Status read_file(const std::string& path, std::string* out);
// Writes `bytes` to `path` atomically (temp file, rename) and, when `sync`, durably (fsync of
// the file before the rename and of the directory after it).
Status write_file_atomically(const std::string& path, std::string_view bytes, bool sync = true);
Status fsync_directory(const std::string& dir);
// Whether a file name is one of write_file_atomically's temp files (left by a crash: delete it).
bool is_interrupted_write(const std::string& file_name);

}  // namespace fednode
