// Throwing helpers: build a message with stream syntax and throw canter::Error.
//   CANTER_CHECK(n > 0, InvalidArgument, "--steps must be positive, got " << n);
#pragma once

#include <sstream>
#include <string>
#include <vector>

#include "canter/error.h"

#define CANTER_THROW(code, msg)                                       \
    do {                                                              \
        std::ostringstream canter_oss_;                               \
        canter_oss_ << msg;                                           \
        throw ::canter::Error(::canter::ErrorCode::k##code, canter_oss_.str()); \
    } while (0)

#define CANTER_CHECK(cond, code, msg)      \
    do {                                   \
        if (!(cond)) CANTER_THROW(code, msg); \
    } while (0)

namespace canter {

// "[2, 3, 4]"
template <typename T>
std::string shape_str(const std::vector<T>& shape) {
    std::ostringstream os;
    os << '[';
    for (size_t i = 0; i < shape.size(); ++i) os << (i ? ", " : "") << shape[i];
    os << ']';
    return os.str();
}

}  // namespace canter
