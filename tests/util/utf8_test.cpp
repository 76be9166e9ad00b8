// UTF-8 validation (RFC 3629 well-formedness) and the byte escaper used in error messages.
#include <gtest/gtest.h>

#include <string>

#include "util/utf8.h"

namespace canter {
namespace {

using util::first_invalid_utf8;

TEST(Utf8, WellFormedTextPasses) {
    EXPECT_EQ(first_invalid_utf8(""), -1);
    EXPECT_EQ(first_invalid_utf8("plain ascii {\"a\": 1}"), -1);
    EXPECT_EQ(first_invalid_utf8("caf\xC3\xA9 \xE4\xBD\xA0\xE5\xA5\xBD \xF0\x9F\x98\x80"), -1);  // é 你好 😀
    EXPECT_EQ(first_invalid_utf8("\xEF\xBF\xBD\xF4\x8F\xBF\xBF"), -1);  // U+FFFD, U+10FFFF
}

TEST(Utf8, IllFormedBytesAreFoundAtTheirOffset) {
    EXPECT_EQ(first_invalid_utf8("ab\xFF"), 2);            // never valid
    EXPECT_EQ(first_invalid_utf8("a\x80"), 1);             // lone continuation byte
    EXPECT_EQ(first_invalid_utf8("\xC3\x28"), 0);          // bad continuation
    EXPECT_EQ(first_invalid_utf8("xy\xC3"), 2);            // truncated at the end
    EXPECT_EQ(first_invalid_utf8("\xC0\xAF"), 0);          // overlong '/'
    EXPECT_EQ(first_invalid_utf8("\xE0\x80\xAF"), 0);      // overlong, 3 bytes
    EXPECT_EQ(first_invalid_utf8("\xED\xA0\x80"), 0);      // UTF-16 surrogate
    EXPECT_EQ(first_invalid_utf8("\xF4\x90\x80\x80"), 0);  // above U+10FFFF
    EXPECT_EQ(first_invalid_utf8("ok \xE4\xBD\xA0 then \xE4\xBD"), 12);
}

TEST(Utf8, EscapeBytesKeepsMessagesPrintable) {
    EXPECT_EQ(util::escape_bytes("a\xFF\n"), "a\\xFF\\x0A");
    EXPECT_EQ(util::escape_bytes(std::string(70, 'z'), 4), "zzzz...");
}

}  // namespace
}  // namespace canter
