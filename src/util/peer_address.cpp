#include "fednode/util/peer_address.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <charconv>

namespace fednode {
namespace {

bool is_ipv4_literal_shape(std::string_view host) {
  return !host.empty() && std::all_of(host.begin(), host.end(), [](unsigned char c) {
    return std::isdigit(c) || c == '.';
  });
}

bool valid_ipv4(std::string_view host) {
  std::string copy(host);
  in_addr addr{};
  return inet_pton(AF_INET, copy.c_str(), &addr) == 1;
}

bool valid_ipv6(std::string_view host) {
  std::string copy(host);
  in6_addr addr{};
  return inet_pton(AF_INET6, copy.c_str(), &addr) == 1;
}

// RFC 1123: labels of 1..63 letters, digits and hyphens, not starting or ending with a hyphen;
// at most 253 characters in all.
bool valid_hostname(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  std::size_t start = 0;
  while (start <= host.size()) {
    std::size_t dot = host.find('.', start);
    if (dot == std::string_view::npos) dot = host.size();
    std::string_view label = host.substr(start, dot - start);
    if (label.empty() || label.size() > 63) return false;
    if (label.front() == '-' || label.back() == '-') return false;
    for (unsigned char c : label) {
      if (!std::isalnum(c) && c != '-') return false;
    }
    start = dot + 1;
    if (dot == host.size()) break;
  }
  return true;
}

}  // namespace

std::string PeerAddress::to_string() const {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

std::optional<PeerAddress> parse_peer_address(std::string_view text, std::string* error) {
  auto fail = [&](const std::string& why) -> std::optional<PeerAddress> {
    if (error) *error = "bad address '" + std::string(text) + "': " + why;
    return std::nullopt;
  };
  std::string_view host;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    std::size_t close = text.find(']');
    if (close == std::string_view::npos) return fail("missing ']' after IPv6 host");
    host = text.substr(1, close - 1);
    if (close + 1 >= text.size() || text[close + 1] != ':') return fail("expected ':PORT' after ']'");
    port_text = text.substr(close + 2);
    if (!valid_ipv6(host)) return fail(std::string("'").append(host) + "' is not an IPv6 address");
  } else {
    std::size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return fail("expected HOST:PORT");
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return fail("IPv6 hosts must be written in brackets, as [::1]:5000");
    }
    if (host.empty()) return fail("empty host");
    if (is_ipv4_literal_shape(host)) {
      if (!valid_ipv4(host)) return fail("'" + std::string(host) + "' is not an IPv4 address");
    } else if (!valid_hostname(host)) {
      return fail("'" + std::string(host) + "' is not a valid host name");
    }
  }
  if (port_text.empty()) return fail("empty port");
  if (!std::all_of(port_text.begin(), port_text.end(),
                   [](unsigned char c) { return std::isdigit(c); })) {
    return fail("port '" + std::string(port_text) + "' is not a number");
  }
  unsigned long port = 0;
  auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || ptr != port_text.data() + port_text.size() || port < 1 || port > 65535) {
    return fail("port " + std::string(port_text) + " is out of range 1-65535");
  }
  PeerAddress out;
  out.host.assign(host);
  std::transform(out.host.begin(), out.host.end(), out.host.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  out.port = static_cast<std::uint16_t>(port);
  return out;
}

}  // namespace fednode
