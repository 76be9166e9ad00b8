// UTF-8 validation for text that arrives from outside (HTTP bodies, form fields): JSON output
// must be valid UTF-8, so invalid bytes are refused at the door with their position.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace canter::util {

// Offset of the first byte that does not start or continue a well-formed UTF-8 sequence
// (overlong forms, surrogates and code points above U+10FFFF are ill-formed), or -1.
int64_t first_invalid_utf8(std::string_view text);

// `text` with every byte outside printable ASCII written as \xHH: safe to put in a message.
std::string escape_bytes(std::string_view text, size_t max_bytes = 64);

}  // namespace canter::util
