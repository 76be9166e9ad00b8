// An error with an HTTP meaning, thrown anywhere in the server room (store, auth, routes) and
// turned into a JSON response by the HTTP layer. Engine errors (canter::Error) are mapped there too.
#pragma once

#include <stdexcept>
#include <string>

namespace canter::server {

struct ApiError : std::runtime_error {
    ApiError(int status, std::string code, const std::string& message, std::string param = "")
        : std::runtime_error(message), status(status), code(std::move(code)), param(std::move(param)) {}
    int status;         // HTTP status: 400, 401, 402, 403, 404, 409, 413, 415, 422, 429, ...
    std::string code;   // machine-readable: "invalid_json", "insufficient_credits", ...
    std::string param;  // the request field at fault, when there is one
};

}  // namespace canter::server
