#include "fednode/app/state_machine.h"

#include "fednode/util/msgpack_limits.h"

#include <msgpack.hpp>

#include "fednode/util/msgpack_pack.h"

namespace fednode {

std::string StateMachine::tagged(Kind kind, std::string_view command) {
  std::string out(1, static_cast<char>(kind));
  out.append(command);
  return out;
}

Status StateMachine::apply(std::string_view command, fl::RoundEvent* event, std::string* why) {
  *event = fl::RoundEvent::kIgnored;
  if (command.empty()) return Status::error("empty command");
  auto kind = static_cast<Kind>(static_cast<std::uint8_t>(command.front()));
  command.remove_prefix(1);
  if (kind == Kind::kKeyValue) return kv_.apply(command);
  if (kind != Kind::kRound) {
    return Status::error("command of unknown kind " + std::to_string(static_cast<unsigned>(kind)) +
                         " (a log written before commands were tagged?)");
  }
  msgpack::object_handle h;
  try {
    h = bounded_unpack_one(command.data(), command.size());
  } catch (const std::exception& e) {
    return Status::error(std::string("round command is not msgpack: ") + e.what());
  }
  if (!fl::RoundState::is_command(h.get())) return Status::error("round command without its fl field");
  return rounds_.apply(h.get(), event, why);
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
    h = bounded_unpack_one(bytes.data(), bytes.size());
  } catch (const std::exception& e) {
    return Status::error(std::string("snapshot is not msgpack: ") + e.what());
  }
  const auto& o = h.get();
  if (o.type != msgpack::type::ARRAY || o.via.array.size < 2 || o.via.array.size > 3 ||
      o.via.array.ptr[0].type != msgpack::type::BIN) {
    return Status::error("snapshot: not a fednode state [key-value, rounds(, format)]");
  }
  if (o.via.array.size == 3) {
    const auto& f = o.via.array.ptr[2];
    if (f.type != msgpack::type::POSITIVE_INTEGER || f.via.u64 == 0) return Status::error("snapshot: its format is not a number from 1");
    if (f.via.u64 > kStateFormat) {
      return Status::error("snapshot: in state format " + std::to_string(f.via.u64) +
                           ", written by a later fednode; this one reads formats 1 to " + std::to_string(kStateFormat) +
                           ": upgrade this node");
    }
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
