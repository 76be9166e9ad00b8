#include "canter/error.h"

namespace canter {

const char* error_code_name(ErrorCode code) {
    switch (code) {
        case ErrorCode::kInvalidArgument: return "invalid argument";
        case ErrorCode::kNotFound: return "not found";
        case ErrorCode::kCorruption: return "corrupt input";
        case ErrorCode::kIO: return "I/O error";
        case ErrorCode::kUnsupported: return "unsupported";
        case ErrorCode::kOutOfMemory: return "out of memory";
        case ErrorCode::kCancelled: return "cancelled";
        case ErrorCode::kInternal: return "internal error";
    }
    return "error";
}

int exit_status_for(ErrorCode code) {
    switch (code) {
        case ErrorCode::kInvalidArgument: return 2;
        case ErrorCode::kNotFound: return 3;
        case ErrorCode::kCorruption: return 4;
        case ErrorCode::kIO: return 5;
        case ErrorCode::kUnsupported: return 6;
        case ErrorCode::kOutOfMemory: return 7;
        case ErrorCode::kCancelled: return 130;
        case ErrorCode::kInternal: return 70;
    }
    return 1;
}

}  // namespace canter
