// JSON text for events and the live page: quotes, backslashes and control characters escaped, and
// bytes that are not well-formed UTF-8 (a peer's text, or a cut) replaced, so strict parsers read it.
#include "fednode/util/json_line.h"

#include <gtest/gtest.h>

namespace fednode {
namespace {

TEST(JsonQuote, EscapesAndKeepsWellFormedUtf8) {
  EXPECT_EQ(json_quote("a\"b\\c\nd\x01"), "\"a\\\"b\\\\c\\nd\\u0001\"");
  EXPECT_EQ(json_quote("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"), "\"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80\"");
}

TEST(JsonQuote, ReplacesWhatIsNotWellFormedUtf8) {
  const std::string fffd = "\xEF\xBF\xBD";
  EXPECT_EQ(json_quote("x\xC3"), "\"x" + fffd + "\"") << "a sequence cut at the end";
  EXPECT_EQ(json_quote("\xC0\xAF"), "\"" + fffd + fffd + "\"") << "an overlong '/'";
  EXPECT_EQ(json_quote("\xED\xA0\x80"), "\"" + fffd + fffd + fffd + "\"") << "a surrogate";
  EXPECT_EQ(json_quote("\xF4\x90\x80\x80"), "\"" + fffd + fffd + fffd + fffd + "\"") << "past U+10FFFF";
  EXPECT_EQ(json_quote("\xFF" "a"), "\"" + fffd + "a\"");
}

TEST(JsonLine, BuildsOneObject) {
  EXPECT_EQ(JsonLine().add("a", "x").add("n", std::uint64_t{3}).add("t", true).add_raw("o", "{}").str(),
            "{\"a\":\"x\",\"n\":3,\"t\":true,\"o\":{}}");
}

}  // namespace
}  // namespace fednode
