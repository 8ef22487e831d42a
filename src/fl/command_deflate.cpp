#include "command_deflate.h"

#include <zlib.h>

namespace fednode::fl {
namespace {

// Version 1 of the dictionary: the field names of round commands as msgpack strings (a length
// byte, then the name), those that recur most last, where zlib finds the nearest match.
const std::string& dictionary() {
  static const std::string dict = [] {
    static constexpr const char* kNames[] = {
        "rounds", "local_epochs", "batch_size", "lr", "momentum", "min_clients", "fraction", "dataset", "model",
        "partition", "alpha", "seed", "train_limit", "test_limit", "initial_model_id", "max_update_norm",
        "trim_fraction", "byzantine_f", "server_lr", "server_momentum", "server_tau", "proximal_mu",
        "update_encoding", "clients_per_round", "min_available", "keep_models", "command_encoding", "config",
        "deadline_ms", "metrics", "start", "commit", "base_state_id", "server_state_id", "test_loss",
        "test_accuracy", "start_ms", "end_ms", "evaluated", "results", "round", "term", "attempt", "model_id",
        "base_model_id", "aggregator", "participants", "node", "samples", "train_loss", "train_seconds"};
    std::string d;
    for (const char* name : kNames) {
      d.push_back(static_cast<char>(0xa0 + std::string_view(name).size()));
      d += name;
    }
    return d;
  }();
  return dict;
}

struct Deflater {
  z_stream s{};
  Deflater() { deflateInit(&s, 9); }
  ~Deflater() { deflateEnd(&s); }
};
struct Inflater {
  z_stream s{};
  Inflater() { inflateInit(&s); }
  ~Inflater() { inflateEnd(&s); }
};

}  // namespace

std::string deflate_command_body(std::string_view body) {
  Deflater d;
  const std::string& dict = dictionary();
  deflateSetDictionary(&d.s, reinterpret_cast<const Bytef*>(dict.data()), static_cast<uInt>(dict.size()));
  std::string out(deflateBound(&d.s, body.size()), '\0');
  d.s.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(body.data()));
  d.s.avail_in = static_cast<uInt>(body.size());
  d.s.next_out = reinterpret_cast<Bytef*>(out.data());
  d.s.avail_out = static_cast<uInt>(out.size());
  deflate(&d.s, Z_FINISH);  // the bound leaves room: Z_STREAM_END
  out.resize(d.s.total_out);
  return out;
}

Status inflate_command_body(std::string_view deflated, std::string* body) {
  Inflater f;
  std::string out(kMaxCommandBody + 1, '\0');
  f.s.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(deflated.data()));
  f.s.avail_in = static_cast<uInt>(deflated.size());
  f.s.next_out = reinterpret_cast<Bytef*>(out.data());
  f.s.avail_out = static_cast<uInt>(out.size());
  int rc = inflate(&f.s, Z_FINISH);
  if (rc == Z_NEED_DICT) {
    const std::string& dict = dictionary();
    if (f.s.adler != adler32(1, reinterpret_cast<const Bytef*>(dict.data()), static_cast<uInt>(dict.size()))) {
      return Status::error("deflated with a dictionary this node does not have");
    }
    inflateSetDictionary(&f.s, reinterpret_cast<const Bytef*>(dict.data()), static_cast<uInt>(dict.size()));
    rc = inflate(&f.s, Z_FINISH);
  }
  if (f.s.total_out > kMaxCommandBody) return Status::error("inflates past " + std::to_string(kMaxCommandBody) + " bytes");
  if (rc != Z_STREAM_END) return Status::error(std::string("not a whole deflate stream (") + (f.s.msg ? f.s.msg : "cut short") + ")");
  if (f.s.avail_in != 0) return Status::error(std::to_string(f.s.avail_in) + " bytes after the stream's end");
  out.resize(f.s.total_out);
  *body = std::move(out);
  return {};
}

}  // namespace fednode::fl
