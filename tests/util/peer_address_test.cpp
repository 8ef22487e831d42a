#include "fednode/util/peer_address.h"

#include <gtest/gtest.h>

namespace fednode {
namespace {

std::string reject(const std::string& text) {
  std::string why;
  EXPECT_FALSE(parse_peer_address(text, &why).has_value()) << text;
  return why;
}

TEST(PeerAddress, AcceptsIpv4HostnameAndBracketedIpv6) {
  std::string why;
  auto a = parse_peer_address("127.0.0.1:5000", &why);
  ASSERT_TRUE(a) << why;
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 5000);
  auto b = parse_peer_address("Node-1.example.org:65535", &why);
  ASSERT_TRUE(b) << why;
  EXPECT_EQ(b->host, "node-1.example.org");
  auto c = parse_peer_address("[::1]:1", &why);
  ASSERT_TRUE(c) << why;
  EXPECT_EQ(c->host, "::1");
  EXPECT_EQ(c->to_string(), "[::1]:1");
}

TEST(PeerAddress, RejectsPortOutOfRange) {
  EXPECT_NE(reject("127.0.0.1:0").find("out of range"), std::string::npos);
  EXPECT_NE(reject("127.0.0.1:65536").find("out of range"), std::string::npos);
  EXPECT_NE(reject("127.0.0.1:99999999999999999999").find("out of range"), std::string::npos);
}

TEST(PeerAddress, RejectsMalformedPort) {
  EXPECT_NE(reject("127.0.0.1:").find("empty port"), std::string::npos);
  EXPECT_NE(reject("127.0.0.1:50a").find("not a number"), std::string::npos);
  EXPECT_NE(reject("127.0.0.1:-1").find("not a number"), std::string::npos);
  EXPECT_NE(reject("localhost").find("HOST:PORT"), std::string::npos);
}

TEST(PeerAddress, RejectsBadHosts) {
  EXPECT_NE(reject("256.0.0.1:5000").find("not an IPv4"), std::string::npos);
  EXPECT_NE(reject("1.2.3:5000").find("not an IPv4"), std::string::npos);
  EXPECT_NE(reject("bad_host:5000").find("not a valid host name"), std::string::npos);
  EXPECT_NE(reject("-lead.example:5000").find("not a valid host name"), std::string::npos);
  EXPECT_NE(reject("a..b:5000").find("not a valid host name"), std::string::npos);
  EXPECT_NE(reject(":5000").find("empty host"), std::string::npos);
  EXPECT_NE(reject("::1:5000").find("brackets"), std::string::npos);
  EXPECT_NE(reject("[::1:5000").find("']'"), std::string::npos);
  EXPECT_NE(reject("[zz::1]:5000").find("IPv6"), std::string::npos);
}

TEST(PeerAddress, ErrorQuotesTheBadValue) {
  EXPECT_NE(reject("256.1.1.1:80").find("'256.1.1.1:80'"), std::string::npos);
}

}  // namespace
}  // namespace fednode
