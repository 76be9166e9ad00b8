// Job outputs: GET /v1/files/{id}/output.mp4. Allowed with the job's capability token
// (?token=, part of every video URL we hand out, so <video src> works without headers) or with
// the owner's API key. Only fixed file names exist; ids are pattern-checked: no path traversal.
#include "server/api_error.h"
#include "server/http/context.h"
#include "server/http/file_stream.h"

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
        if (job->status != JobStatus::kSucceeded || !send_file_streamed(res, ctx.files.output_path(id), "video/mp4"))
            throw ApiError(404, "not_found", "no such file");
        res.set_header("Cache-Control", "private, max-age=3600");
        if (req.has_param("download"))
            res.set_header("Content-Disposition", "attachment; filename=\"" + id + ".mp4\"");
    }));
}

}  // namespace canter::server
