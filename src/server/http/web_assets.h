// The web UI files (src/server/web), embedded at build time by cmake/embed_web_run.cmake.
#pragma once

#include <cstddef>
#include <vector>

namespace canter::server {

struct WebAsset {
    const char* name;  // "index.html", "app.js", ...
    const char* content_type;
    const unsigned char* data;
    size_t size;
};
const std::vector<WebAsset>& web_assets();

}  // namespace canter::server
