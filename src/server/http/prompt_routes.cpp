// POST /v1/prompts/refine: {idea, subject?, action?, camera?, scene?, sound?, style?, language?,
// dialogue?: [{speaker, text, language}], use_llm?} -> {prompt, sections, source, warning?}.
#include "server/api_error.h"
#include "server/http/context.h"
#include "server/prompt/refine.h"

namespace canter::server {

void register_prompt_routes(httplib::Server& http, Context& ctx) {
    http.Post("/v1/prompts/refine", guarded([&ctx](const httplib::Request& req, httplib::Response& res) {
        authenticate(ctx, req);
        const json body = parse_json_body(req);
        const RefineInput input = parse_refine_json(body);
        bool use_llm = !ctx.options.refine_url.empty();
        if (body.contains("use_llm")) {
            if (!body["use_llm"].is_boolean()) throw ApiError(422, "invalid_field", "use_llm: must be true or false", "use_llm");
            use_llm = use_llm && body["use_llm"].get<bool>();
        }
        const RefineOutput out =
            use_llm ? refine_with_llm(input, {ctx.options.refine_url, ctx.options.refine_model, ctx.options.refine_api_key})
                    : build_prompt(input);
        json j = {{"prompt", out.prompt}, {"sections", out.sections}, {"source", out.source}};
        if (!out.warning.empty()) j["warning"] = out.warning;
        send_json(res, 200, j);
    }));
}

}  // namespace canter::server
