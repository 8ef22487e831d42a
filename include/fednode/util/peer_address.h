#pragma once
// PeerAddress: a validated HOST:PORT as given on the command line, in a config file or in a
// client request. Parsing never resolves names; it checks syntax only.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace fednode {

struct PeerAddress {
  std::string host;  // IPv4 dotted quad, IPv6 literal (without brackets) or RFC 1123 host name
  std::uint16_t port = 0;

  // "host:port", with IPv6 hosts in brackets: "[::1]:5000".
  std::string to_string() const;
  friend bool operator==(const PeerAddress&, const PeerAddress&) = default;
  friend auto operator<=>(const PeerAddress&, const PeerAddress&) = default;
};

// Parses "HOST:PORT". On failure returns nullopt and sets *error to a one-line reason that quotes
// the offending text. Host names are lower-cased so that "Node1:5000" and "node1:5000" compare equal.
std::optional<PeerAddress> parse_peer_address(std::string_view text, std::string* error);

}  // namespace fednode
