#include "server/http/file_stream.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>

namespace canter::server {

bool send_file_streamed(httplib::Response& res, const std::string& path, const std::string& content_type) {
    std::error_code ec;
    const auto size = std::filesystem::file_size(path, ec);
    if (ec) return false;
    // Opened now: a file deleted after this point still streams (the open descriptor keeps it).
    auto in = std::make_shared<std::ifstream>(path, std::ios::binary);
    if (!*in) return false;
    res.set_content_provider(static_cast<size_t>(size), content_type,
                             [in](size_t offset, size_t length, httplib::DataSink& sink) {
                                 char buf[65536];
                                 in->clear();
                                 in->seekg(static_cast<std::streamoff>(offset));
                                 in->read(buf, static_cast<std::streamsize>(std::min(length, sizeof buf)));
                                 const auto got = in->gcount();
                                 return got > 0 && sink.write(buf, static_cast<size_t>(got));
                             });
    return true;
}

}  // namespace canter::server
