#include "fednode/app/state_machine.h"

#include <msgpack.hpp>

#include "fednode/util/msgpack_pack.h"

namespace fednode {

Status StateMachine::apply(std::string_view command, fl::RoundEvent* event, std::string* why) {
  *event = fl::RoundEvent::kIgnored;
  msgpack::object_handle h;
  try {
    h = msgpack::unpack(command.data(), command.size());
  } catch (const std::exception& e) {
    return Status::error(std::string("command is not msgpack: ") + e.what());
  }
  if (fl::RoundState::is_command(h.get())) return rounds_.apply(h.get(), event, why);
  return kv_.apply(command);
}

std::string StateMachine::snapshot() const {
  msgpack::sbuffer b;
  MsgpackPacker p(b);
  p.pack_array(2);
  pack_bin(p, kv_.snapshot());
  rounds_.pack(p);
  return std::string(b.data(), b.size());
}

Status StateMachine::restore(std::string_view bytes) {
  msgpack::object_handle h;
  try {
    h = msgpack::unpack(bytes.data(), bytes.size());
  } catch (const std::exception& e) {
    return Status::error(std::string("snapshot is not msgpack: ") + e.what());
  }
  const auto& o = h.get();
  if (o.type != msgpack::type::ARRAY || o.via.array.size != 2 || o.via.array.ptr[0].type != msgpack::type::BIN) {
    return Status::error("snapshot: not a fednode state [key-value, rounds]");
  }
  KvStore kv;
  fl::RoundState rounds;
  const auto& bin = o.via.array.ptr[0].via.bin;
  if (Status s = kv.restore(std::string_view(bin.ptr, bin.size)); !s.ok()) return s;
  if (Status s = rounds.restore(o.via.array.ptr[1]); !s.ok()) return Status::error("snapshot: " + s.message());
  kv_ = std::move(kv);
  rounds_ = std::move(rounds);
  return {};
}

}  // namespace fednode
