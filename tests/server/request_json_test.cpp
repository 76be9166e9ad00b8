// JSON -> GenerateRequest: types, aliases, limits and error messages that name the field.
#include <gtest/gtest.h>

#include "server/api_error.h"
#include "server/prompt/refine.h"
#include "server/request_json.h"

namespace canter::server {
namespace {

using nlohmann::json;

ApiError error_of_parse(const json& body) {
    try {
        parse_generate_json(body, {"256p"});
    } catch (const ApiError& e) {
        return e;
    }
    return ApiError(0, "", "");
}

TEST(ServerRequestJson, DefaultsAliasesAndTypes) {
    auto p = parse_generate_json(json{{"prompt", "a cat"}, {"seconds", "10s"}, {"audio", false},
                                      {"speech_language", "Cantonese"}, {"seed", 7}},
                                 {});
    EXPECT_EQ(p.request.seconds, 10);
    EXPECT_FALSE(p.request.audio);
    EXPECT_EQ(p.request.language, "yue");
    EXPECT_EQ(p.request.seed, 7);
    EXPECT_EQ(p.request.aspect_ratio, "16:9");
    auto q = parse_generate_json(json{{"prompt", "x"}, {"duration", 15}, {"generate_audio", true}}, {});
    EXPECT_EQ(q.request.seconds, 15);
    EXPECT_GE(q.request.seed, 0);  // random when omitted
    // Round trip through the stored form.
    const GenerateRequest back = request_from_json(request_to_json(p.request));
    EXPECT_EQ(back.seconds, 10);
    EXPECT_EQ(back.language, "yue");
    EXPECT_EQ(request_cost(back), 10);
}

TEST(ServerRequestJson, ErrorsNameTheField) {
    struct Case { json body; int status; const char* param; };
    const Case cases[] = {
        {json{{"duration", 5}}, 422, "prompt"},
        {json{{"prompt", 5}}, 422, "prompt"},
        {json{{"prompt", "   "}}, 422, "prompt"},
        {json{{"prompt", std::string(kMaxPromptChars + 1, 'a')}}, 422, "prompt"},
        {json{{"prompt", "x"}, {"duration", 20}}, 422, "duration"},
        {json{{"prompt", "x"}, {"duration", "five"}}, 422, "duration"},
        {json{{"prompt", "x"}, {"aspect_ratio", "2:1"}}, 422, "aspect_ratio"},
        {json{{"prompt", "x"}, {"resolution", "1080p"}}, 422, "resolution"},  // not in the loaded model
        {json{{"prompt", "x"}, {"seed", "7"}}, 422, "seed"},
        {json{{"prompt", "x"}, {"generate_audio", "yes"}}, 422, "generate_audio"},
        {json{{"prompt", "x"}, {"language", "Klingon"}}, 422, "language"},
        {json{{"prompt", "x"}, {"image_url", "http://example.com/a.png"}}, 422, "image_url"},
        {json{{"prompt", "x"}, {"image_url", "data:text/plain;base64,aGVsbG8="}}, 415, "image_url"},
    };
    for (const auto& c : cases) {
        const ApiError e = error_of_parse(c.body);
        EXPECT_EQ(e.status, c.status) << c.body.dump().substr(0, 80);
        EXPECT_EQ(e.param, c.param) << c.body.dump().substr(0, 80) << " -> " << e.what();
        EXPECT_NE(std::string(e.what()).find(c.param), std::string::npos) << e.what();
    }
    EXPECT_EQ(error_of_parse(json::array()).status, 422);
}

TEST(ServerRequestJson, ImagesAreCheckedByContentAndSize) {
    const std::string png = std::string("\x89PNG\r\n\x1a\n", 8) + "rest";
    EXPECT_EQ(check_image(png, "image").ext, "png");
    EXPECT_EQ(check_image("\xff\xd8\xff\xe0rest", "image").ext, "jpg");
    EXPECT_EQ(check_image(std::string("RIFF\x10\0\0\0WEBPVP8 ", 16), "image").ext, "webp");
    try {
        check_image(std::string(kMaxImageBytes + 1, 'x'), "input_reference");
        FAIL();
    } catch (const ApiError& e) {
        EXPECT_EQ(e.status, 413);
        EXPECT_EQ(e.param, "input_reference");
    }
    // data: URI with a real PNG header.
    const auto img = decode_data_uri("data:image/png;base64,iVBORw0KGgoAAAANSUhEUg==", "image_url");
    EXPECT_EQ(img.ext, "png");
}

TEST(ServerRefine, BuilderIsDeterministicAndStructured) {
    RefineInput in = parse_refine_json(json{
        {"idea", "an old fisherman on a pier at dawn"},
        {"language", "Cantonese"},
        {"dialogue", json::array({{{"speaker", "Fisherman"}, {"text", "The tide is turning."}}})}});
    const RefineOutput a = build_prompt(in), b = build_prompt(in);
    EXPECT_EQ(a.prompt, b.prompt);
    EXPECT_EQ(a.source, "builder");
    for (const char* part : {"Action:", "Camera:", "Scene:", "Sound:", "Fisherman (Cantonese): \"The tide is turning.\""})
        EXPECT_NE(a.prompt.find(part), std::string::npos) << part << " in " << a.prompt;
    EXPECT_EQ(a.sections["dialogue"][0]["language"], "yue");
    EXPECT_THROW(parse_refine_json(json{{"idea", ""}}), ApiError);
    EXPECT_THROW(parse_refine_json(json{{"idea", "x"}, {"dialogue", "hi"}}), ApiError);
}

TEST(ServerRefine, UnreachableChatEndpointFallsBackToTheBuilder) {
    RefineInput in = parse_refine_json(json{{"idea", "a red kite"}});
    const RefineOutput out = refine_with_llm(in, {"http://127.0.0.1:1/v1", "m", ""});
    EXPECT_EQ(out.source, "builder");
    EXPECT_EQ(out.prompt, build_prompt(in).prompt);
    EXPECT_FALSE(out.warning.empty());
}

}  // namespace
}  // namespace canter::server
