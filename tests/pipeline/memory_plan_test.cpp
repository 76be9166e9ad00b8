// The engine's memory plan (pipeline/memory_plan.h): budgets parse with clear errors, and the
// plan keeps, loads per stage, streams or refuses exactly as its three cases say.
#include "pipeline/memory_plan.h"

#include "test_util.h"

namespace canter {
namespace {

using pipeline::PlanComponent;
using pipeline::PlanStage;

constexpr uint64_t GiB = 1ull << 30, MiB = 1ull << 20;

TEST(MemoryPlan, SizesParseWithBinaryUnits) {
    EXPECT_EQ(pipeline::parse_byte_size("6G", "--max-memory"), 6 * GiB);
    EXPECT_EQ(pipeline::parse_byte_size("6GiB", "--max-memory"), 6 * GiB);
    EXPECT_EQ(pipeline::parse_byte_size("24gb", "--max-memory"), 24 * GiB);
    EXPECT_EQ(pipeline::parse_byte_size("512M", "--max-memory"), 512 * MiB);
    EXPECT_EQ(pipeline::parse_byte_size("1.5G", "--max-memory"), 3 * GiB / 2);
    EXPECT_EQ(pipeline::parse_byte_size("4096", "--max-memory"), 4096u);
    for (const char* bad : {"", "six", "6X", "-1G", "0", "6 G G"}) {
        const std::string msg = testing::error_of([&] { pipeline::parse_byte_size(bad, "--max-vram"); });
        EXPECT_NE(msg.find("--max-vram expects a size"), std::string::npos) << bad << ": " << msg;
    }
}

models::Footprint big_model(uint64_t blocks_gib, int blocks) {
    models::Footprint f;
    f.other_bytes = GiB / 4;
    f.block_bytes = blocks_gib * GiB;
    f.largest_block = f.block_bytes / blocks;
    f.blocks = blocks;
    return f;
}

std::vector<PlanComponent> components() {
    models::Footprint vae;
    vae.other_bytes = GiB / 2;
    return {{"text_encoder", "text encoder", big_model(16, 42), true},
            {"dit.base", "distilled DiT", big_model(30, 40), true},
            {"turbo_vaed", "TurboVAED decoder", vae, false}};
}

std::vector<PlanStage> stages() {
    return {{"text", "text_encoder", 256 * MiB}, {"base", "dit.base", GiB}, {"decode", "turbo_vaed", GiB / 2}};
}

TEST(MemoryPlan, EverythingFitsStaysLoaded) {
    const auto plan = pipeline::plan_memory(80 * GiB, "--max-memory", components(), stages());
    EXPECT_TRUE(plan.keep_loaded);
    EXPECT_FALSE(plan.streamed.at("dit.base"));
    EXPECT_NE(plan.log[0].find("memory budget 80.0 GiB (--max-memory)"), std::string::npos) << plan.log[0];
}

TEST(MemoryPlan, StageByStageWhenOnlyOneFitsAtATime) {
    const auto plan = pipeline::plan_memory(40 * GiB, "available RAM", components(), stages());
    EXPECT_FALSE(plan.keep_loaded);
    EXPECT_FALSE(plan.streamed.at("text_encoder"));
    EXPECT_FALSE(plan.streamed.at("dit.base"));
    EXPECT_LE(plan.peak_estimate, 40 * GiB);
}

TEST(MemoryPlan, WhatDoesNotFitAloneStreams) {
    // 24 GB: the 16 GB text encoder fits on its own, the 30 GB DiT streams.
    const auto plan = pipeline::plan_memory(24 * GiB, "available RAM", components(), stages());
    EXPECT_FALSE(plan.streamed.at("text_encoder"));
    EXPECT_TRUE(plan.streamed.at("dit.base"));
    // 6 GB: both stream; the peak is a two-layer ring plus the small tensors and the stage's work.
    const auto tight = pipeline::plan_memory(6 * GiB, "--max-memory", components(), stages());
    EXPECT_TRUE(tight.streamed.at("text_encoder"));
    EXPECT_TRUE(tight.streamed.at("dit.base"));
    EXPECT_LT(tight.peak_estimate, 3 * GiB);
    bool logged = false;
    for (const auto& l : tight.log) logged |= l.find("distilled DiT: 30.2 GiB does not fit; streaming its 40 layers") == 0;
    EXPECT_TRUE(logged) << ::testing::PrintToString(tight.log);
}

TEST(MemoryPlan, AlwaysStreamStreamsEvenWhenItFits) {
    const auto plan = pipeline::plan_memory(80 * GiB, "--max-memory", components(), stages(), /*always_stream=*/true);
    EXPECT_FALSE(plan.keep_loaded);
    EXPECT_TRUE(plan.streamed.at("dit.base"));
    EXPECT_TRUE(plan.streamed.at("text_encoder"));
    EXPECT_FALSE(plan.streamed.at("turbo_vaed"));  // nothing to stream
}

TEST(MemoryPlan, TooSmallABudgetNamesTheSmallestThatWorks) {
    const std::string msg =
        testing::error_of([&] { pipeline::plan_memory(1 * GiB, "--max-memory", components(), stages()); });
    // The DiT stage streamed: 0.25 GiB + 2 x 0.75 GiB ring + 1 GiB of work = 2.75 GiB.
    EXPECT_NE(msg.find("--max-memory 1.0 GiB is too small"), std::string::npos) << msg;
    EXPECT_NE(msg.find("base stage (distilled DiT, streamed)"), std::string::npos) << msg;
    EXPECT_NE(msg.find("the smallest budget that works is 2.8 GiB"), std::string::npos) << msg;
}

TEST(MemoryPlan, WhatTheProcessAlreadyHoldsCountsAgainstAnExplicitBudget) {
    // 3 GiB would fit the streamed DiT stage (2.75 GiB) alone, not beside 1 GiB of libraries.
    EXPECT_NO_THROW(pipeline::plan_memory(3 * GiB, "--max-memory", components(), stages()));
    const std::string msg = testing::error_of(
        [&] { pipeline::plan_memory(3 * GiB, "--max-memory", components(), stages(), false, 1 * GiB); });
    EXPECT_NE(msg.find("--max-memory 3.0 GiB is too small"), std::string::npos) << msg;
    EXPECT_NE(msg.find("besides the 1.0 GiB the process holds"), std::string::npos) << msg;
    EXPECT_NE(msg.find("the smallest budget that works is 3.8 GiB"), std::string::npos) << msg;
    EXPECT_GT(pipeline::process_resident_bytes(), 0u);
}

}  // namespace
}  // namespace canter
