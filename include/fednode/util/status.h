#pragma once
// Status: success, or an error that says what failed and where (file and offset, peer and
// field). Errors are values; nothing on the control loop throws.
#include <string>
#include <utility>

namespace fednode {

class Status {
 public:
  Status() = default;
  static Status error(std::string message) { return Status(std::move(message)); }
  bool ok() const { return !failed_; }
  const std::string& message() const { return message_; }
  explicit operator bool() const { return ok(); }

 private:
  explicit Status(std::string message) : failed_(true), message_(std::move(message)) {}
  bool failed_ = false;
  std::string message_;
};

}  // namespace fednode
