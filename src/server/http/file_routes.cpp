// Job outputs: GET /v1/files/{id}/output.mp4. Allowed with the job's capability token
// (?token=, part of every video URL we hand out, so <video src> works without headers) or with
// the owner's API key. Only fixed file names exist; ids are pattern-checked: no path traversal.
#include <filesystem>
#include <fstream>
#include <memory>

#include "server/api_error.h"
#include "server/http/context.h"

namespace canter::server {

void register_file_routes(httplib::Server& http, Context& ctx) {
    http.Get("^/v1/files/([^/]+)/([^/]+)$", guarded([&ctx](const httplib::Request& req, httplib::Response& res) {
        const std::string id = req.matches[1], name = req.matches[2];
        if (!is_valid_id(id) || name != "output.mp4") throw ApiError(404, "not_found", "no such file");
        auto job = ctx.jobs.get(id);
        if (!job || job->deleted_at > 0) throw ApiError(404, "not_found", "no such file");
        const std::string token = req.get_param_value("token");
        if (token.empty()) {
            const ApiKey key = authenticate(ctx, req);
            if (key.id != job->key_id) throw ApiError(404, "not_found", "no such file");
        } else if (token != job->file_token) {
            throw ApiError(404, "not_found", "no such file");
        }
        const std::string path = ctx.files.output_path(id);
        std::error_code ec;
        const auto size = std::filesystem::file_size(path, ec);
        if (ec || job->status != JobStatus::kSucceeded) throw ApiError(404, "not_found", "no such file");
        auto in = std::make_shared<std::ifstream>(path, std::ios::binary);
        res.set_header("Cache-Control", "private, max-age=3600");
        if (req.has_param("download"))
            res.set_header("Content-Disposition", "attachment; filename=\"" + id + ".mp4\"");
        res.set_content_provider(static_cast<size_t>(size), "video/mp4",
                                 [in](size_t offset, size_t length, httplib::DataSink& sink) {
                                     char buf[65536];
                                     in->clear();
                                     in->seekg(static_cast<std::streamoff>(offset));
                                     const size_t n = std::min(length, sizeof buf);
                                     in->read(buf, static_cast<std::streamsize>(n));
                                     const auto got = in->gcount();
                                     if (got <= 0) return false;
                                     return sink.write(buf, static_cast<size_t>(got));
                                 });
    }));
}

}  // namespace canter::server
