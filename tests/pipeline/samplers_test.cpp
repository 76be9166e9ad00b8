// Samplers in isolation: schedule tables, UniPC and step_ddim replayed on the reference's own
// velocities, ZeroSNR, the SDE variant, guidance and noise sources. No DiT involved.
#include <ATen/ATen.h>

#include <cmath>
#include <string>

#include "io/safetensors.h"
#include "pipeline/samplers/distilled.h"
#include "pipeline/samplers/flow_schedule.h"
#include "pipeline/samplers/guidance.h"
#include "pipeline/samplers/noise_source.h"
#include "pipeline/samplers/sde.h"
#include "pipeline/samplers/unipc.h"
#include "test_util.h"

namespace canter {
namespace {

using pipeline::FlowSchedule;
using testing::golden;
using testing::near;

std::shared_ptr<io::SafetensorsFile> sampling_case(const std::string& name) {
    return io::SafetensorsFile::open(golden("sampling/" + name + ".safetensors"));
}

std::string step_name(int i, const std::string& what) {
    return "step." + std::to_string(i) + "." + what;
}

// --- schedules ---------------------------------------------------------------------------------

TEST(FlowSchedule, MatchesGoldenTablesExactly) {
    auto ref = sampling_case("unipc_schedule_tables");
    for (int n : {8, 32}) {
        const auto s = pipeline::flow_schedule(n, 5.0);
        const std::string p = "unipc_shift5_n" + std::to_string(n);
        EXPECT_TRUE(at::equal(s.sigmas_tensor(), ref->tensor(p + ".sigmas"))) << p;
        EXPECT_TRUE(at::equal(s.timesteps_tensor(), ref->tensor(p + ".timesteps"))) << p;
    }
    // The sampling cases store their own tables (8 base steps, 5 SR steps).
    for (const std::string name : {"distill_t2v", "base_cfg_ti2v", "sr_t2v"}) {
        auto c = sampling_case(name);
        const auto s =
            pipeline::flow_schedule(static_cast<int>(c->tensor("timesteps").numel()), 5.0);
        EXPECT_TRUE(at::equal(s.sigmas_tensor(), c->tensor("sigmas"))) << name;
        EXPECT_TRUE(at::equal(s.timesteps_tensor(), c->tensor("timesteps"))) << name;
    }
    EXPECT_EQ(pipeline::flow_schedule(5, 5.0).timesteps,
              (std::vector<int64_t>{999, 952, 882, 768, 555}));
}

TEST(FlowSchedule, RejectsBadArguments) {
    EXPECT_THROW(pipeline::flow_schedule(0, 5.0), Error);
    EXPECT_THROW(pipeline::flow_schedule(8, 0.0), Error);
}

TEST(ZeroSnr, TableValues) {
    const auto t = pipeline::zero_snr_table();
    ASSERT_EQ(t.size(), 1000u);
    EXPECT_FLOAT_EQ(pipeline::zero_snr_coefficient(220), 0.8389104f);
    EXPECT_EQ(pipeline::zero_snr_coefficient(220),
              sampling_case("sr_t2v")->tensor("noise_sigma").item<float>());
    EXPECT_NEAR(t[100], 0.94168, 1e-5);
    EXPECT_NEAR(t[500], 0.49094, 1e-5);
    EXPECT_NEAR(t[0], 0.99957, 1e-5);
    EXPECT_EQ(t[999], 0.0f);
    EXPECT_NEAR(std::sqrt(1.0f - t[220] * t[220]), 0.5442695f, 1e-7);
    EXPECT_THROW(pipeline::zero_snr_coefficient(1000), Error);
    EXPECT_THROW(pipeline::zero_snr_coefficient(-1), Error);
}

// --- UniPC -------------------------------------------------------------------------------------

// Feeds the stored model inputs and guided velocities of a reference run; each output must
// be the stored scheduler output (the multistep history comes from the same run).
void replay_unipc(const std::string& case_name, const std::string& prefix,
                  const std::string& modality, double tol) {
    auto c = sampling_case(case_name);
    const int n = static_cast<int>(c->tensor("timesteps").numel());
    pipeline::UniPCMultistep solver(pipeline::flow_schedule(n, 5.0));
    for (int i = 0; i < n; ++i) {
        const at::Tensor x = c->tensor(prefix + step_name(i, "model_in_" + modality));
        const at::Tensor v = c->tensor(prefix + step_name(i, "v_cfg_" + modality));
        const at::Tensor out = solver.step(v, x);
        EXPECT_TRUE(near(out, c->tensor(prefix + step_name(i, "latent_" + modality + "_after")),
                         tol, case_name + " " + prefix + step_name(i, modality)));
    }
    EXPECT_TRUE(solver.done());
    EXPECT_THROW(solver.step(c->tensor(prefix + step_name(0, "v_cfg_" + modality)),
                             c->tensor(prefix + step_name(0, "model_in_" + modality))),
                 Error);
}

TEST(UniPC, ReplaysBaseCfgRun) {
    for (const std::string prefix : {"fp32.", "native."}) {
        replay_unipc("base_cfg_ti2v", prefix, "video", 2e-6);
        replay_unipc("base_cfg_ti2v", prefix, "audio", 2e-6);
    }
}

TEST(UniPC, ReplaysSrRuns) {
    for (const std::string name : {"sr_t2v", "sr_cfg_ti2v"})
        for (const std::string prefix : {"fp32.", "native."})
            replay_unipc(name, prefix, "video", 2e-6);
}

// On the exact straight-path velocity toward x0 every x0-prediction is x0, so UniPC must
// stay on the path x = (1-sigma)*x0 + sigma*eps and end exactly at x0, for any step count
// (250 steps: the int64 timesteps repeat, the step index is counted).
TEST(UniPC, StaysOnStraightPathAndEndsAtPrediction) {
    at::manual_seed(3);
    const at::Tensor x0 = at::randn({1, 4, 3, 2, 2});
    const at::Tensor eps = at::randn({1, 4, 3, 2, 2});
    for (int n : {1, 2, 3, 8, 250}) {
        const auto schedule = pipeline::flow_schedule(n, 5.0);
        pipeline::UniPCMultistep solver(schedule);
        at::Tensor x =
            eps * static_cast<double>(schedule.sigmas[0]) + x0 * (1.0 - schedule.sigmas[0]);
        for (int k = 0; k < n; ++k) {
            const at::Tensor v = eps - x0;
            x = solver.step(v, x);
            const double s = schedule.sigmas[k + 1];
            EXPECT_TRUE(near(x, eps * s + x0 * (1.0 - s), 2e-5,
                             "n=" + std::to_string(n) + " k=" + std::to_string(k)));
        }
        // The last step returns the x0-prediction of its input itself.
        EXPECT_TRUE(near(x, x0, 2e-5, "final n=" + std::to_string(n)));
    }
}

TEST(UniPC, FinalStepIsPredictionOfUncorrectedSample) {
    const auto schedule = pipeline::flow_schedule(2, 5.0);
    pipeline::UniPCMultistep solver(schedule);
    at::manual_seed(4);
    const at::Tensor x_a = at::randn({1, 8}), v_a = at::randn({1, 8});
    const at::Tensor x_b = at::randn({1, 8}), v_b = at::randn({1, 8});
    solver.step(v_a, x_a);
    const at::Tensor out = solver.step(v_b, x_b);
    EXPECT_TRUE(at::equal(out, x_b - v_b * static_cast<double>(schedule.sigmas[1])));
}

// --- distilled and SDE updates -----------------------------------------------------------------

TEST(StepDdim, ReplaysDistilledRun) {
    for (const std::string name : {"distill_t2v", "distill_ti2v"}) {
        auto c = sampling_case(name);
        const auto schedule = pipeline::flow_schedule(8, 5.0);
        for (const std::string prefix : {"fp32.", "native."})
            for (const std::string m : {"video", "audio"})
                for (int i = 0; i < 8; ++i) {
                    const at::Tensor out = pipeline::step_ddim(
                        schedule, i, c->tensor(prefix + step_name(i, "v_cfg_" + m)),
                        c->tensor(prefix + step_name(i, "model_in_" + m)),
                        c->tensor("ddim_noise." + std::to_string(i) + "." + m));
                    EXPECT_TRUE(near(out,
                                     c->tensor(prefix + step_name(i, "latent_" + m + "_after")),
                                     1e-6, name + " " + prefix + step_name(i, m)));
                }
    }
}

TEST(StepDdim, Formula) {
    const auto s = pipeline::flow_schedule(4, 5.0);
    const at::Tensor x = at::full({3}, 2.0), v = at::full({3}, 0.5), e = at::full({3}, -1.0);
    const double sk = s.sigmas[1], sn = s.sigmas[2];
    const double expect = sn * -1.0 + (1.0 - sn) * (2.0 - sk * 0.5);
    EXPECT_NEAR(pipeline::step_ddim(s, 1, v, x, e)[0].item<double>(), expect, 1e-6);
    // Last step: the noise has no effect.
    EXPECT_TRUE(
        at::equal(pipeline::step_ddim(s, 3, v, x, e), pipeline::step_ddim(s, 3, v, x, e * 7.0)));
    EXPECT_THROW(pipeline::step_ddim(s, 4, v, x, e), Error);
}

TEST(StepSde, ThetaRule) {
    // N = 8: int(0.75*8) = 6 -> k 0..5 alternate 0,1; then 1 when k % 3 == 0.
    std::vector<int> got;
    for (int k = 0; k < 8; ++k) got.push_back(pipeline::sde_theta(k, 8));
    EXPECT_EQ(got, (std::vector<int>{0, 1, 0, 1, 0, 1, 1, 0}));
    EXPECT_EQ(pipeline::sde_theta(0, 1), 1);  // int(0.75) = 0: only the tail rule applies
}

// Upstream crashes computing theta; ours runs any step count, theta 1 equals step_ddim,
// theta 0 the Euler step, and on the exact straight-path velocity it ends at x0.
TEST(StepSde, RunsOnTrivialVelocity) {
    at::manual_seed(5);
    const at::Tensor x0 = at::randn({1, 4, 2, 2, 2});
    for (int n : {1, 2, 3, 8, 32}) {
        const auto schedule = pipeline::flow_schedule(n, 5.0);
        pipeline::SeededNoise noise(11);
        at::Tensor x = noise.draw("init", x0.sizes());
        for (int k = 0; k < n; ++k) {
            const double s = schedule.sigmas[k];
            const at::Tensor v = (x - x0) / s;  // exact velocity toward x0
            const at::Tensor e = noise.draw("sde", x.sizes());
            const at::Tensor next = pipeline::step_sde(schedule, k, v, x, e);
            if (pipeline::sde_theta(k, n) == 1) {
                EXPECT_TRUE(near(next, pipeline::step_ddim(schedule, k, v, x, e), 1e-6, "theta 1"));
            } else {
                EXPECT_TRUE(
                    near(next, x + v * (schedule.sigmas[k + 1] - s), 1e-5, "theta 0 = Euler"));
            }
            x = next;
            ASSERT_TRUE(at::isfinite(x).all().item<bool>());
        }
        EXPECT_TRUE(near(x, x0, 1e-5, "SDE final n=" + std::to_string(n)));
    }
}

// --- guidance ----------------------------------------------------------------------------------

TEST(Guidance, ScalesAndFormula) {
    pipeline::GuidanceConfig g;
    EXPECT_EQ(pipeline::base_video_scale(g, 999), 5.0);
    EXPECT_EQ(pipeline::base_video_scale(g, 501), 5.0);
    EXPECT_EQ(pipeline::base_video_scale(g, 500), 2.0);
    g.cfg_trick_start_frame = 2;
    const at::Tensor s = pipeline::sr_video_scale(g, 5);
    EXPECT_TRUE(at::equal(s.flatten(), at::tensor({2.0f, 2.0f, 3.5f, 3.5f, 3.5f})));
    EXPECT_EQ(s.sizes(), (at::IntArrayRef{1, 1, 5, 1, 1}));
    g.use_cfg_trick = false;
    EXPECT_TRUE(at::equal(pipeline::sr_video_scale(g, 3).flatten(), at::full({3}, 3.5f)));
    g.use_cfg_trick = true;
    g.cfg_trick_start_frame = 13;  // more than the frames: all lowered
    EXPECT_TRUE(at::equal(pipeline::sr_video_scale(g, 3).flatten(), at::full({3}, 2.0f)));
    const at::Tensor c = at::full({2}, 3.0), u = at::full({2}, 1.0);
    EXPECT_TRUE(at::equal(pipeline::apply_cfg(c, u, 5.0), at::full({2}, 11.0)));
    EXPECT_THROW(pipeline::apply_cfg(c, at::ones({3}), 5.0), Error);
}

TEST(Guidance, ReproducesStoredCfg) {
    auto c = sampling_case("base_cfg_ti2v");
    const auto ts = c->tensor("timesteps");
    pipeline::GuidanceConfig g;
    for (int i = 0; i < 8; ++i) {
        const double sv = pipeline::base_video_scale(g, ts[i].item<int64_t>());
        EXPECT_TRUE(near(
            pipeline::apply_cfg(c->tensor("fp32." + step_name(i, "v_cond_video")),
                                c->tensor("fp32." + step_name(i, "v_uncond_video")), sv),
            c->tensor("fp32." + step_name(i, "v_cfg_video")), 1e-6, step_name(i, "v_cfg_video")));
        EXPECT_TRUE(near(
            pipeline::apply_cfg(c->tensor("fp32." + step_name(i, "v_cond_audio")),
                                c->tensor("fp32." + step_name(i, "v_uncond_audio")), g.audio_scale),
            c->tensor("fp32." + step_name(i, "v_cfg_audio")), 1e-6, step_name(i, "v_cfg_audio")));
    }
}

// --- noise sources -----------------------------------------------------------------------------

TEST(NoiseSource, SeededIsReproducible) {
    pipeline::SeededNoise a(42), b(42), other(43);
    const at::Tensor a1 = a.draw("x", {2, 3}), a2 = a.draw("y", {4});
    EXPECT_TRUE(at::equal(a1, b.draw("x", {2, 3})));
    EXPECT_TRUE(at::equal(a2, b.draw("y", {4})));
    EXPECT_FALSE(at::equal(a1, other.draw("x", {2, 3})));
    EXPECT_FALSE(at::equal(a1.flatten().narrow(0, 0, 4), a2));  // the stream advances
    EXPECT_EQ(a1.scalar_type(), at::kFloat);
    // Independent of the global generator.
    at::manual_seed(1);
    pipeline::SeededNoise c(42);
    at::randn({10});
    EXPECT_TRUE(at::equal(a1, c.draw("x", {2, 3})));
}

TEST(NoiseSource, TensorNoiseByName) {
    pipeline::TensorNoise n({{"sr_noise.video", at::ones({2, 2})}});
    EXPECT_TRUE(at::equal(n.draw("sr_noise.video", {2, 2}), at::ones({2, 2})));
    EXPECT_THROW(n.draw("sr_noise.audio", {2, 2}), Error);
    EXPECT_THROW(n.draw("sr_noise.video", {4}), Error);
}

}  // namespace
}  // namespace canter
