#include "etcd_writer.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace fednode::bench {

namespace {

std::string base64(const std::string& in) {
  static const char* table = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    unsigned v = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8) |
                 static_cast<unsigned char>(in[i + 2]);
    out += {table[(v >> 18) & 63], table[(v >> 12) & 63], table[(v >> 6) & 63], table[v & 63]};
  }
  if (i + 1 == in.size()) {
    unsigned v = static_cast<unsigned char>(in[i]) << 16;
    out += {table[(v >> 18) & 63], table[(v >> 12) & 63], '=', '='};
  } else if (i + 2 == in.size()) {
    unsigned v = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8);
    out += {table[(v >> 18) & 63], table[(v >> 12) & 63], table[(v >> 6) & 63], '='};
  }
  return out;
}

bool send_all(int fd, const std::string& data) {
  std::size_t sent = 0;
  while (sent < data.size()) {
    ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return false;
    sent += static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace

EtcdWriter::~EtcdWriter() { close(); }

void EtcdWriter::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  buffered_.clear();
}

bool EtcdWriter::connect(const std::string& endpoint) {
  close();
  auto colon = endpoint.rfind(':');
  if (colon == std::string::npos) return false;
  host_ = endpoint;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(std::atoi(endpoint.c_str() + colon + 1)));
  if (::inet_pton(AF_INET, endpoint.substr(0, colon).c_str(), &addr.sin_addr) != 1) return false;
  fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd_ < 0) return false;
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close();
    return false;
  }
  return true;
}

bool EtcdWriter::put(const std::string& key, const std::string& value) {
  if (fd_ < 0 && !connect(host_)) return false;
  std::string body = "{\"key\":\"" + base64(key) + "\",\"value\":\"" + base64(value) + "\"}";
  std::string request = "POST /v3/kv/put HTTP/1.1\r\nHost: " + host_ +
                        "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
                        "\r\n\r\n" + body;
  int status = 0;
  std::string answer;
  if (!send_all(fd_, request) || !read_response(&status, &answer)) {
    close();
    return false;
  }
  return status == 200 && answer.find("\"header\"") != std::string::npos;
}

// Reads one response: headers, then a Content-Length body or a chunked one.
bool EtcdWriter::read_response(int* status, std::string* body) {
  auto fill = [this]() {
    char chunk[4096];
    ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0) return false;
    buffered_.append(chunk, static_cast<std::size_t>(n));
    return true;
  };
  std::size_t end;
  while ((end = buffered_.find("\r\n\r\n")) == std::string::npos) {
    if (!fill()) return false;
  }
  std::string head = buffered_.substr(0, end);
  buffered_.erase(0, end + 4);
  if (head.size() < 12 || head.compare(0, 5, "HTTP/") != 0) return false;
  *status = std::atoi(head.c_str() + 9);
  std::string lower = head;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (auto at = lower.find("content-length:"); at != std::string::npos) {
    auto length = static_cast<std::size_t>(std::atol(lower.c_str() + at + 15));
    while (buffered_.size() < length) {
      if (!fill()) return false;
    }
    *body = buffered_.substr(0, length);
    buffered_.erase(0, length);
    return true;
  }
  if (lower.find("transfer-encoding: chunked") == std::string::npos) return false;
  body->clear();
  for (;;) {
    std::size_t line;
    while ((line = buffered_.find("\r\n")) == std::string::npos) {
      if (!fill()) return false;
    }
    auto size = static_cast<std::size_t>(std::strtoul(buffered_.c_str(), nullptr, 16));
    buffered_.erase(0, line + 2);
    while (buffered_.size() < size + 2) {
      if (!fill()) return false;
    }
    body->append(buffered_, 0, size);
    buffered_.erase(0, size + 2);
    if (size == 0) return true;
  }
}

}  // namespace fednode::bench
