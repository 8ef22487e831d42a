#pragma once
// How much of a peer datagram a Raft message's payload may fill (the entries of an append, the
// data of a snapshot chunk: raft::Config::max_message_bytes), so that the message, encoded and
// sealed, fits the datagram. The rest is the message's header, its entries' framing, the seal
// (nonce, tag, sender) and a snapshot chunk's metadata (the membership, a few bytes a member).
//
// The default aims at datagrams that IP does not fragment on a 1,500-byte MTU (1,472 bytes of
// UDP payload over IPv4, 1,452 over IPv6; behind a tunnel, its MTU minus 28 or 48): a lost
// fragment loses the whole datagram (at 1 % loss, a 42-fragment datagram is lost 34 % of the
// time) and many internet paths drop fragments outright. An entry larger than the budget still
// travels whole, in one datagram of up to --max-datagram bytes.
#include <cstddef>

namespace fednode::net {

inline constexpr std::size_t kDefaultDatagramTarget = 1400;
// What framing takes around the payload, a snapshot chunk's membership included: a group of 5
// voters and 32 learners fits (tests/net/peer_codec_test.cpp, DatagramBudget: at most 1,385 of
// 1,400 bytes). A larger group's chunks carry more and may be fragmented.
inline constexpr std::size_t kDatagramFraming = 500;

inline std::size_t raft_payload_budget(std::size_t datagram_bytes) {
  return datagram_bytes > 2 * kDatagramFraming ? datagram_bytes - kDatagramFraming : datagram_bytes / 2;
}

}  // namespace fednode::net
