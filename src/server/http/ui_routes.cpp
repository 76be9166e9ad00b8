// The built-in web page: GET / and its assets, all from memory (no CDN, no files on disk).
#include "server/http/context.h"
#include "server/http/web_assets.h"

namespace canter::server {

void register_ui_routes(httplib::Server& http, Context&) {
    for (const auto& asset : web_assets()) {
        const std::string name = asset.name;
        auto serve = [asset](const httplib::Request&, httplib::Response& res) {
            res.set_header("Cache-Control", "no-cache");
            res.set_content(reinterpret_cast<const char*>(asset.data), asset.size, asset.content_type);
        };
        http.Get("/" + name, serve);
        if (name == "index.html") http.Get("/", serve);
    }
}

}  // namespace canter::server
