// End-to-end generation on the built-in demo model: real loaders, real pipeline, real MP4,
// decoded back and checked.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "canter/engine.h"
#include "io/media/media_probe.h"
#include "io/media/png_writer.h"
#include "pipeline/geometry.h"
#include "test_util.h"

namespace canter {
namespace {

namespace fs = std::filesystem;

std::string read_bytes(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// One demo model and engine for the whole suite (creating it takes a moment).
class EngineTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        model_dir_ = new std::string(testing::temp_dir("engine-model") + "/demo");
        make_demo_model(*model_dir_);
        EngineOptions o;
        o.model_dir = *model_dir_;
        engine_ = Engine::open(o).release();
    }
    static void TearDownTestSuite() {
        delete engine_;
        delete model_dir_;
    }
    GenerateRequest request(const std::string& name) {
        GenerateRequest r;
        r.prompt = "A man in a red coat says hello to the camera.";
        r.seconds = 1;
        r.output_path = out_dir_ + "/" + name + ".mp4";
        return r;
    }
    std::string out_dir_ = testing::temp_dir("engine-out");
    static std::string* model_dir_;
    static Engine* engine_;
};
std::string* EngineTest::model_dir_ = nullptr;
Engine* EngineTest::engine_ = nullptr;

TEST_F(EngineTest, DemoModelIsDeterministicAndComplete) {
    const std::string again = testing::temp_dir("engine-model-again") + "/demo";
    make_demo_model(again);
    int files = 0;
    for (const auto& e : fs::recursive_directory_iterator(*model_dir_)) {
        if (!e.is_regular_file()) continue;
        const auto rel = fs::relative(e.path(), *model_dir_);
        ASSERT_TRUE(fs::exists(fs::path(again) / rel)) << rel;
        EXPECT_EQ(read_bytes(e.path()), read_bytes(fs::path(again) / rel)) << rel << " differs between two runs";
        ++files;
    }
    EXPECT_GE(files, 10);
    const auto info = engine_->info();
    EXPECT_TRUE(info.demo);
    EXPECT_EQ(info.resolutions, (std::vector<std::string>{"256p", "540p", "1080p"}));
}

TEST_F(EngineTest, TextToVideoWithAudioMakesAValidMp4) {
    auto req = request("t2v");
    req.wav_path = out_dir_ + "/t2v.wav";
    req.contact_sheet_path = out_dir_ + "/t2v.png";
    std::vector<Progress> events;
    const auto result = engine_->generate(req, [&](const Progress& p) { events.push_back(p); });
    const auto geo = pipeline::compute_geometry(1, pipeline::Resolution::k256p, pipeline::Aspect::k16x9);

    EXPECT_TRUE(result.demo_model);
    EXPECT_EQ(result.width, 448);
    EXPECT_EQ(result.height, 256);
    EXPECT_EQ(result.frames, geo.video_frames);
    EXPECT_EQ(result.audio_sample_rate, 44100);
    for (const char* stage : {"text", "base", "decode", "audio", "mux"}) EXPECT_TRUE(result.timings_s.count(stage)) << stage;

    const auto m = media::probe_media(req.output_path);
    EXPECT_TRUE(m.has_video);
    EXPECT_TRUE(m.has_audio);
    EXPECT_EQ(m.video_codec, "h264");
    EXPECT_EQ(m.pix_fmt, "yuv420p");
    EXPECT_EQ(m.width, 448);
    EXPECT_EQ(m.height, 256);
    EXPECT_NEAR(m.fps, 25.0, 1e-6);
    EXPECT_EQ(m.video_frames, geo.video_frames);
    EXPECT_NEAR(m.video_duration_s, geo.video_seconds(), 1.0 / 25);
    EXPECT_EQ(m.audio_codec, "aac");
    EXPECT_EQ(m.audio_sample_rate, 44100);
    EXPECT_EQ(m.audio_channels, 2);
    EXPECT_NEAR(m.audio_duration_s, geo.audio_seconds(), 0.05);  // AAC frames are 1024 samples
    EXPECT_TRUE(fs::exists(req.wav_path));
    EXPECT_EQ(fs::file_size(req.wav_path), 44u + geo.audio_samples_out * 2 * 2);
    EXPECT_TRUE(fs::exists(req.contact_sheet_path));

    // Progress: starts with the text stage, one event per denoising step, ends at 100 %.
    ASSERT_FALSE(events.empty());
    EXPECT_EQ(events.front().stage, "text");
    EXPECT_EQ(events.back().stage, "done");
    EXPECT_DOUBLE_EQ(events.back().fraction, 1.0);
    int base_steps = 0;
    double last = 0;
    for (const auto& e : events) {
        if (e.stage == "base" && e.step > 0) ++base_steps;
        EXPECT_GE(e.fraction, last);
        last = e.fraction;
    }
    EXPECT_EQ(base_steps, 8);  // distilled model default
}

TEST_F(EngineTest, SameSeedSameOutputOtherSeedDifferent) {
    auto a = request("seed-a");
    a.wav_path = out_dir_ + "/a.wav";
    auto b = request("seed-b");
    b.wav_path = out_dir_ + "/b.wav";
    auto c = request("seed-c");
    c.wav_path = out_dir_ + "/c.wav";
    c.seed = 7;
    for (auto* r : {&a, &b, &c}) r->steps = 2;
    engine_->generate(a);
    engine_->generate(b);
    engine_->generate(c);
    EXPECT_EQ(read_bytes(a.wav_path), read_bytes(b.wav_path));
    EXPECT_NE(read_bytes(a.wav_path), read_bytes(c.wav_path));
}

TEST_F(EngineTest, ImageToVideoPortraitAndSilent) {
    // A 300x200 gradient reference image, cropped and resized to 256x448 (9:16).
    auto img = at::zeros({200, 300, 3}, at::kByte);
    img.select(2, 0).copy_(at::arange(300).remainder(256).to(at::kByte).expand({200, 300}));
    const std::string image = out_dir_ + "/ref.png";
    media::write_png(image, img);
    auto req = request("ti2v");
    req.image_path = image;
    req.aspect_ratio = "9:16";
    req.audio = false;
    req.steps = 2;
    const auto result = engine_->generate(req);
    EXPECT_EQ(result.width, 256);
    EXPECT_EQ(result.height, 448);
    EXPECT_EQ(result.audio_sample_rate, 0);
    EXPECT_TRUE(result.timings_s.count("image"));
    const auto m = media::probe_media(req.output_path);
    EXPECT_TRUE(m.has_video);
    EXPECT_FALSE(m.has_audio);
    EXPECT_EQ(m.width, 256);
    EXPECT_EQ(m.height, 448);
}

TEST_F(EngineTest, SuperResolutionTo540p) {
    auto req = request("sr");
    req.resolution = "540p";
    req.aspect_ratio = "1:1";
    req.steps = 1;
    std::vector<std::string> stages;
    const auto result = engine_->generate(req, [&](const Progress& p) {
        if (stages.empty() || stages.back() != p.stage) stages.push_back(p.stage);
    });
    EXPECT_EQ(result.width, 512);
    EXPECT_EQ(result.height, 512);
    EXPECT_TRUE(result.timings_s.count("sr"));
    EXPECT_NE(std::find(stages.begin(), stages.end(), "sr"), stages.end());
    const auto m = media::probe_media(req.output_path);
    EXPECT_EQ(m.width, 512);
    EXPECT_EQ(m.video_frames, result.frames);
}

TEST_F(EngineTest, CancelStopsAtTheNextStepAndWritesNothing) {
    auto req = request("cancelled");
    req.wav_path = out_dir_ + "/cancelled.wav";
    std::atomic<bool> cancel{false};
    int steps_after_cancel = 0;
    const auto msg = testing::error_of([&] {
        engine_->generate(
            req,
            [&](const Progress& p) {
                if (cancel.load() && p.stage == "base" && p.step > 1) ++steps_after_cancel;
                if (p.stage == "base" && p.step == 1) cancel = true;
            },
            &cancel);
    });
    EXPECT_NE(msg.find("cancelled"), std::string::npos) << msg;
    EXPECT_EQ(steps_after_cancel, 0);
    EXPECT_FALSE(fs::exists(req.output_path));
    EXPECT_FALSE(fs::exists(req.wav_path));
    for (const auto& e : fs::directory_iterator(out_dir_))
        EXPECT_EQ(e.path().filename().string().find("cancelled"), std::string::npos) << e.path();
}

TEST_F(EngineTest, LongPromptIsTruncatedWithAWarning) {
    auto req = request("long");
    req.steps = 1;
    req.prompt.clear();
    for (int i = 0; i < 400; ++i) req.prompt += "sunlit meadow ";
    const auto result = engine_->generate(req);
    ASSERT_EQ(result.warnings.size(), 1u);
    EXPECT_NE(result.warnings[0].find("640"), std::string::npos) << result.warnings[0];
    EXPECT_TRUE(fs::exists(req.output_path));
}

TEST_F(EngineTest, BadRequestsFailBeforeWorkAndLeaveNoFiles) {
    auto expect_error = [&](GenerateRequest r, const std::string& needle) {
        const auto msg = testing::error_of([&] { engine_->generate(r); });
        EXPECT_NE(msg.find(needle), std::string::npos) << "expected '" << needle << "' in: " << msg;
        EXPECT_FALSE(fs::exists(r.output_path)) << r.output_path;
    };
    auto r = request("bad");
    auto empty = r;
    empty.prompt = "   ";
    expect_error(empty, "prompt");
    auto secs = r;
    secs.seconds = 16;
    expect_error(secs, "seconds");
    auto aspect = r;
    aspect.aspect_ratio = "21:9";
    expect_error(aspect, "aspect ratio");
    auto res = r;
    res.resolution = "720p";
    expect_error(res, "resolution");
    auto image = r;
    image.image_path = out_dir_ + "/no-such-image.png";
    expect_error(image, "no-such-image.png");
    auto notimage = r;
    notimage.image_path = out_dir_ + "/not-an-image.png";
    std::ofstream(notimage.image_path) << "this is text, not pixels";
    expect_error(notimage, "not-an-image.png");
    auto unwritable = r;
    unwritable.output_path = out_dir_ + "/no/such/folder/out.mp4";
    expect_error(unwritable, "does not exist");
    auto lang = r;
    lang.language = "Klingon";
    expect_error(lang, "language");
}

TEST_F(EngineTest, GuidanceOnTheDistilledModelIsReportedUnused) {
    auto req = request("distilled-guidance");
    req.steps = 1;
    req.guidance = 7;
    const auto result = engine_->generate(req);
    ASSERT_EQ(result.warnings.size(), 1u);
    EXPECT_NE(result.warnings[0].find("without classifier-free guidance"), std::string::npos) << result.warnings[0];
}

// A manifest whose base-stage DiT is `base` (not `distill`) runs UniPC with CFG: two forwards a
// step, the negative prompt encoded, guidance scales applied.
TEST(EngineBaseModel, RunsClassifierFreeGuidance) {
    const std::string dir = testing::temp_dir("engine-base") + "/demo";
    make_demo_model(dir);
    const auto manifest = fs::path(dir) / "canter.json";
    auto j = nlohmann::json::parse(read_bytes(manifest));
    j["dit"]["base"] = j["dit"]["distill"];
    j["dit"].erase("distill");
    std::ofstream(manifest) << j.dump(2);
    EngineOptions o;
    o.model_dir = dir;
    auto engine = Engine::open(o);
    GenerateRequest r;
    r.prompt = "a drummer plays";
    r.seconds = 1;
    r.steps = 2;
    r.output_path = testing::temp_dir("engine-base-out") + "/base.mp4";
    r.wav_path = testing::temp_dir("engine-base-out") + "/base.wav";
    int base_steps = 0;
    const auto result = engine->generate(r, [&](const Progress& p) {
        if (p.stage == "base" && p.step > 0) base_steps = p.steps;
    });
    EXPECT_EQ(base_steps, 2);
    EXPECT_TRUE(result.warnings.empty());
    EXPECT_TRUE(media::probe_media(r.output_path).has_audio);
    // Guidance changes the result; the default equals an explicit 5.0.
    const std::string default_wav = read_bytes(r.wav_path);
    r.guidance = 5.0;
    r.audio_guidance = 5.0;
    engine->generate(r);
    EXPECT_EQ(read_bytes(r.wav_path), default_wav);
    r.audio_guidance = 1.0;
    engine->generate(r);
    EXPECT_NE(read_bytes(r.wav_path), default_wav);
}

TEST(EngineManifest, MissingPartsAreListedTogether) {
    const std::string dir = testing::temp_dir("engine-broken") + "/demo";
    make_demo_model(dir);
    fs::remove_all(fs::path(dir) / "audio_vae");
    fs::remove(fs::path(dir) / "text_encoder" / "tokenizer.model");
    EngineOptions o;
    o.model_dir = dir;
    const auto msg = testing::error_of([&] { Engine::open(o); });
    EXPECT_NE(msg.find("audio_vae"), std::string::npos) << msg;
    EXPECT_NE(msg.find("tokenizer.model"), std::string::npos) << msg;
    EXPECT_NE(msg.find("2 problems"), std::string::npos) << msg;
}

TEST(EngineManifest, ResolutionWithoutItsSrModelIsAClearError) {
    const std::string dir = testing::temp_dir("engine-nosr") + "/demo";
    make_demo_model(dir);
    // Drop the 1080p SR DiT from the manifest.
    const auto manifest = fs::path(dir) / "canter.json";
    auto j = nlohmann::json::parse(read_bytes(manifest));
    ASSERT_EQ(j["dit"].erase("sr_1080p"), 1u);
    std::ofstream(manifest) << j.dump(2);
    EngineOptions o;
    o.model_dir = dir;
    auto engine = Engine::open(o);
    EXPECT_EQ(engine->info().resolutions, (std::vector<std::string>{"256p", "540p"}));
    GenerateRequest r;
    r.prompt = "x";
    r.seconds = 1;
    r.resolution = "1080p";
    r.output_path = testing::temp_dir("engine-nosr-out") + "/x.mp4";
    const auto msg = testing::error_of([&] { engine->generate(r); });
    EXPECT_NE(msg.find("1080p"), std::string::npos) << msg;
    EXPECT_FALSE(fs::exists(r.output_path));
}

// Streaming every layer and loading stage by stage must not change a single sample: the same
// request with `--stream-layers always` gives the same audio and frames (540p with an image,
// so the text encoder, both DiTs and the image encoder all go through their stores).
TEST(EngineMemory, StreamedStageByStageIsBitIdenticalAndReported) {
    const std::string dir = testing::temp_dir("engine-mem") + "/demo";
    make_demo_model(dir);
    const std::string out = testing::temp_dir("engine-mem-out");
    const std::string image = out + "/ref.png";
    media::write_png(image, at::randint(0, 255, {96, 64, 3}, at::kByte));
    auto run = [&](const std::string& stream, const std::string& name) {
        EngineOptions o;
        o.model_dir = dir;
        o.stream_layers = stream;
        auto engine = Engine::open(o);
        GenerateRequest r;
        r.prompt = "A man in a red coat says hello to the camera.";
        r.seconds = 1;
        r.steps = 2;
        r.resolution = "540p";
        r.image_path = image;
        r.output_path = out + "/" + name + ".mp4";
        r.wav_path = out + "/" + name + ".wav";
        r.contact_sheet_path = out + "/" + name + ".png";
        return engine->generate(r);
    };
    const auto resident = run("auto", "resident");
    const auto streamed = run("always", "streamed");
    EXPECT_EQ(read_bytes(out + "/resident.wav"), read_bytes(out + "/streamed.wav"));
    EXPECT_EQ(read_bytes(out + "/resident.png"), read_bytes(out + "/streamed.png"));
    EXPECT_TRUE(resident.streaming.empty());
    ASSERT_EQ(streamed.streaming.size(), 3u);  // text, base, sr
    for (const auto& s : streamed.streaming) EXPECT_GT(s.bytes_read, 0u) << s.stage;
    EXPECT_NE(resident.memory_plan.back().find("kept loaded"), std::string::npos);
    bool streamed_logged = false;
    for (const auto& l : streamed.memory_plan) streamed_logged |= l.find("distilled DiT:") == 0;
    EXPECT_TRUE(streamed_logged) << ::testing::PrintToString(streamed.memory_plan);
    EXPECT_GT(streamed.peak_rss_bytes, 0u);
}

TEST(EngineMemory, BadBudgetsAreClearErrors) {
    const std::string dir = testing::temp_dir("engine-budget") + "/demo";
    make_demo_model(dir);
    EngineOptions o;
    o.model_dir = dir;
    o.max_memory = "lots";
    EXPECT_NE(testing::error_of([&] { Engine::open(o); }).find("--max-memory expects a size"), std::string::npos);
    o.max_memory = "1M";
    o.stream_layers = "sometimes";
    EXPECT_NE(testing::error_of([&] { Engine::open(o); }).find("--stream-layers must be auto or always"),
              std::string::npos);
    o.stream_layers = "auto";
    auto engine = Engine::open(o);  // the plan is per job: opening succeeds
    GenerateRequest r;
    r.prompt = "x";
    r.seconds = 1;
    r.output_path = testing::temp_dir("engine-budget-out") + "/x.mp4";
    const auto msg = testing::error_of([&] { engine->generate(r); });
    EXPECT_NE(msg.find("--max-memory 1 MiB is too small for this job"), std::string::npos) << msg;
    EXPECT_NE(msg.find("the smallest budget that works is"), std::string::npos) << msg;
    EXPECT_FALSE(fs::exists(r.output_path));
}

}  // namespace
}  // namespace canter
