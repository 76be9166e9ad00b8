// Error type thrown by libcanter. Every message names the file, tensor, field or
// parameter that is wrong, and what was expected versus what was found.
#pragma once

#include <stdexcept>
#include <string>

namespace canter {

// leveldb-style categories; frontends map them to exit codes / HTTP statuses.
enum class ErrorCode {
    kInvalidArgument,  // bad user input: flag, request field, config value
    kNotFound,         // a file, tensor or key that should exist does not
    kCorruption,       // a file exists but its content is malformed
    kIO,               // the OS refused a read or write
    kUnsupported,      // valid but not implemented / not available on this build
    kOutOfMemory,
    kCancelled,
    kInternal,  // a broken invariant inside canter (a bug)
};

class Error : public std::runtime_error {
public:
    Error(ErrorCode code, const std::string& message)
        : std::runtime_error(message), code_(code) {}
    ErrorCode code() const { return code_; }

private:
    ErrorCode code_;
};

// "invalid argument", "not found", ...
const char* error_code_name(ErrorCode code);

// Process exit status a CLI should use for an error of this category (never 0).
int exit_status_for(ErrorCode code);

}  // namespace canter
