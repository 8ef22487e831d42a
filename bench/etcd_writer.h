// A blocking etcd v3 writer over etcd's JSON gateway (POST /v3/kv/put on the client port, HTTP/1.1
// keep-alive), so that cluster-bench drives etcd with the same clients, threads and values it
// drives fednode with.
#pragma once

#include <string>

namespace fednode::bench {

class EtcdWriter {
 public:
  EtcdWriter() = default;
  EtcdWriter(const EtcdWriter&) = delete;
  EtcdWriter& operator=(const EtcdWriter&) = delete;
  ~EtcdWriter();

  // endpoint: "HOST:PORT" of an etcd member's client URL (plain http).
  bool connect(const std::string& endpoint);
  // One put; true when etcd answered 200 with a header (the write is committed).
  bool put(const std::string& key, const std::string& value);

 private:
  bool read_response(int* status, std::string* body);
  void close();

  int fd_ = -1;
  std::string host_;
  std::string buffered_;
};

}  // namespace fednode::bench
