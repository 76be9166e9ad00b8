// Sends a file in 64 KiB chunks from disk (httplib content provider), so a download costs no more
// memory than one chunk however large the video is.
#pragma once

#include <httplib.h>

#include <string>

namespace canter::server {

// False (nothing set) when the file cannot be opened or sized.
bool send_file_streamed(httplib::Response& res, const std::string& path, const std::string& content_type);

}  // namespace canter::server
